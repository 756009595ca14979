"""The life of each holder for the national data set: certificates issued at the
counter (order → approval → appointment → handover), renewed before they end,
revoked with an RFC 5280 §5.3.1 reason (new position, work ended, superseded,
token lost), held and released (token misplaced), tokens returned, wiped or
destroyed, PINs unblocked. Times are working hours in Ulaanbaatar (UTC+8)."""
from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, time, timezone

from ra.reports import national_data as D
from ra.reports.national import MARKER_REGISTRY, counter_start, details

DAY, HOUR = 86400.0, 3600.0
LOCAL = 8 * HOUR              # Asia/Ulaanbaatar, no daylight saving
VALIDITY = 730 * DAY
SLOT = 30 * 60


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


class History:
    def __init__(self, session, ports, scale, writer, audit, rng, say):
        self.s, self.ports, self.scale, self.w, self.audit, self.rng, self.say = (
            session, ports, scale, writer, audit, rng, say)
        self.now = ports.clock.now().timestamp()
        self.start = self.now - scale.years * 365 * DAY
        self.numbering: dict[tuple[str, int], int] = {}
        self.slots: dict[tuple[int, int], list] = {}
        self.batches: dict[tuple[int, int], int] = {}
        self.certificates = 0
        self.password_hash = ports.passwords.hash("demo-password-2026")

    # -- helpers -------------------------------------------------------------------------------------------------
    def pick(self, pairs):
        r, acc = self.rng.random(), 0.0
        for value, share in pairs:
            acc += share
            if r < acc:
                return value
        return pairs[-1][0]

    def work(self, ts: float) -> float:
        """The next working moment (Monday–Friday, 09:00–17:00 local) on ts's day or after."""
        local = ts + LOCAL
        day = math.floor(local / DAY)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
        if weekday >= 5:
            day += 7 - weekday
        return day * DAY + 9 * HOUR + self.rng.random() * 8 * HOUR - LOCAL

    def number(self, series: str, year: int) -> int:
        key = (series, year)
        if key not in self.numbering:
            self.numbering[key] = counter_start(self.s, series, year)
        self.numbering[key] += 1
        return self.numbering[key]

    def lognormal_hours(self, median: float, sigma: float = 1.0) -> float:
        return median * math.exp(self.rng.gauss(0, sigma)) * HOUR

    # -- the run ----------------------------------------------------------------------------------------------------
    def run(self) -> None:
        self.staff()
        self.organisations()
        self.counters()
        self.say(f"{self.scale.organisations} organisations; generating {self.scale.certificates} certificates")
        holders = 0
        while self.certificates < self.scale.certificates:
            self.holder_life()
            holders += 1
            if holders % 20000 == 0:
                self.say(f"  {holders} holders, {self.certificates} certificates")
            self.w.maybe_flush(keep=("appointment_slot", "appointment", "audit_record"))
        self.stock()
        self.w.flush(keep=("appointment_slot", "appointment"))
        for (counter_id, start), (slot_id, booked) in self.slots.items():
            self.w.add("appointment_slot", (slot_id, counter_id, utc(start), utc(start + SLOT), max(6, booked), booked))
        self.w.flush()
        self.say(f"{holders} holders, {self.certificates} certificates, {len(self.slots)} appointment slots")

    def staff(self) -> None:
        created = utc(self.start - 60 * DAY)
        self.officers = []
        for i in range(1, self.scale.officers + 1):
            uid = self.w.new_id("user_account")
            email = f"national.officer{i:02d}@ra.ub.gov.mn"
            name = f"{self.rng.choice(D.GIVEN_NAMES)} {self.rng.choice(D.SURNAMES)}"
            self.w.add("user_account", (uid, email, name, "ra_officer", None, self.password_hash, "mn", True, 1, created))
            self.officers.append((uid, email))
        self.w.add("user_account", (self.w.new_id("user_account"), "national.manager@ra.ub.gov.mn", "Удирдлага Үндэсний",
                                    "ra_manager", None, self.password_hash, "mn", True, 1, created))
        # A few officers do most of the counter work.
        self.officer_weights = [1.0 / (1 + i % 7) for i in range(len(self.officers))]

    def officer(self):
        return self.rng.choices(self.officers, weights=self.officer_weights)[0]

    def organisations(self) -> None:
        kinds = list(D.KIND_WEIGHTS)
        districts = list(D.DISTRICT_WEIGHTS)
        self.orgs, weights, seq = [], [], {}
        for i in range(self.scale.organisations):
            kind = kinds[i] if i < len(kinds) else self.rng.choices(kinds, weights=list(D.KIND_WEIGHTS.values()))[0]
            district = districts[i] if i < len(districts) else \
                self.rng.choices(districts, weights=list(D.DISTRICT_WEIGHTS.values()))[0]
            seq[(kind, district)] = n = seq.get((kind, district), 0) + 1
            oid, uid = self.w.new_id("organisation"), self.w.new_id("user_account")
            created = self.start - 90 * DAY + self.rng.random() * (self.now - self.start) * 0.3
            year = utc(created).year
            contract = f"БН-{year}/{self.number('contract', year):04d}"
            domain = f"org{i:05d}.gov.mn"
            status = "active" if self.rng.random() > 0.02 else "suspended"
            registrar = f"{self.rng.choice(D.GIVEN_NAMES)} {self.rng.choice(D.SURNAMES)}"
            self.w.add("organisation", (
                oid, D.KIND_NAME[kind].format(d=D.DISTRICT_MN[district], n=n), str(int(MARKER_REGISTRY) + i), kind,
                district, f"Улаанбаатар хот, {D.DISTRICT_MN[district]} дүүрэг", "7011 2233", f"{domain} gov.mn", status,
                registrar, "Бүртгэлийн ажилтан", f"burtgel@{domain}", "9911 2233", contract, utc(created + 5 * DAY).date(),
                utc(created)))
            self.w.add("user_account", (uid, f"burtgel@{domain}", registrar, "org_registrar", oid, self.password_hash,
                                        "mn", True, 1, utc(created)))
            self.orgs.append((oid, uid, domain, contract, f"burtgel@{domain}"))
            weights.append(D.KIND_SIZE[kind] * math.exp(self.rng.gauss(0, 0.5)))
        total = sum(weights)
        acc, self.org_cum = 0.0, []
        for wgt in weights:
            acc += wgt / total
            self.org_cum.append(acc)

    def counters(self) -> None:
        self.counter_ids = []
        for i in range(self.scale.counters):
            cid = self.w.new_id("counter")
            self.w.add("counter", (cid, f"Үндэсний цонх {i + 1}", "Нийслэлийн МТГ", time(9), time(17), time(12),
                                   time(13), 30, 6, "12345", True, utc(self.start - 60 * DAY)))
            self.counter_ids.append(cid)

    # -- one holder -------------------------------------------------------------------------------------------
    def holder_life(self) -> None:
        rng = self.rng
        org = self.orgs[min(len(self.orgs) - 1, _bisect(self.org_cum, rng.random()))]
        oid, registrar_id, domain, contract, registrar_email = org
        hid = self.w.new_id("holder")
        surname, given = rng.choice(D.SURNAMES), rng.choice(D.GIVEN_NAMES)
        born = date(1960 + rng.randrange(40), 1 + rng.randrange(12), 1 + rng.randrange(28))
        n = len(D.REGISTER_LETTERS)
        letters = D.REGISTER_LETTERS[hid % n] + D.REGISTER_LETTERS[(hid // n) % n]
        month = born.month + (20 if born.year >= 2000 else 0)
        regno = f"{letters}{born.year % 100:02d}{month:02d}{born.day:02d}{hid % 100:02d}"
        email = f"h{hid}@{domain}"
        profile = self.pick(D.PROFILE_SHARES)
        # A rollout at the start, then a steady stream of new holders.
        t = self.start + rng.random() * (2 * 365 * DAY if rng.random() < 0.4 else self.now - self.start - 10 * DAY)
        holder = {"id": hid, "org": oid, "registrar": registrar_id, "registrar_email": registrar_email, "email": email,
                  "regno": regno, "name": f"{surname} {given}", "profile": profile}
        kind, departed = "new", False
        while self.certificates < self.scale.certificates:
            issue = self.work(t)
            if issue >= self.now:
                if issue < self.now + 30 * DAY and rng.random() < 0.5:
                    self.open_order(holder, kind)
                break
            nxt, kind, departed = self.certificate(holder, issue, kind)
            if nxt is None:
                break
            t = nxt
        created = utc(self.start - 30 * DAY)
        position = rng.choice(D.POSITIONS)
        self.w.add("holder", (hid, oid, surname, given, "", D.LATIN.get(surname, "X"), D.LATIN.get(given, "X"), regno,
                              born, position, rng.choice(D.DEPARTMENTS), email, "9900 0000", "mn",
                              "departed" if departed else "active", contract, created))

    def certificate(self, holder, issue: float, kind: str):
        """One certificate's life; returns (when the next one is issued or None, its order kind, departed)."""
        rng, w = self.rng, self.w
        self.certificates += 1
        officer_id, _ = self.officer()
        approver_id, approver_email = self.officer()
        decided = issue - max(600.0, self.lognormal_hours(60, 0.9))
        submitted = decided - max(600.0, self.lognormal_hours(18, 1.0))
        end = issue + VALIDITY
        key_type = self.pick(D.KEY_TYPES)
        gen2 = issue > self.start + (self.now - self.start) / 2  # the issuing CA's second generation
        issuer = "CN=Төрийн гэрчилгээжүүлэх байгууллага G2,O=ҮДТ,C=MN" if gen2 else \
            "CN=Төрийн гэрчилгээжүүлэх байгууллага G1,O=ҮДТ,C=MN"
        order_id, req_id, cert_id, token_id = (w.new_id("certificate_order"), w.new_id("certificate_request"),
                                               w.new_id("certificate"), w.new_id("token"))
        serial = f"{0x4D4E0000000000 + cert_id:X}"
        pk = hashlib.sha256(serial.encode()).hexdigest()
        subject = f"CN={holder['name']},serialNumber={holder['regno']}"
        if rng.random() < 0.03:  # an earlier order for the same holder, rejected
            self.rejected_order(holder, submitted - 10 * DAY)
        w.add("certificate_order", (order_id, holder["org"], holder["id"], holder["profile"], key_type, kind, "issued",
                                    holder["registrar"], utc(submitted - 600), utc(submitted), approver_id, utc(decided),
                                    None, serial, utc(end), issuer, utc(issue)))
        self.audit.add(decided, approver_id, approver_email, "order.approved", "order", order_id,
                       details(**{"from": "submitted", "to": "approved", "subject": subject}))
        w.add("certificate_request", (req_id, f"national-{cert_id}", "embedded", holder["profile"], order_id,
                                      holder["id"], "(national demo: no CSR)", key_type, pk, subject, "issued", 1,
                                      utc(issue), utc(issue), utc(issue)))
        self.appointments(order_id, holder, decided, issue)
        ho_id = w.new_id("handover")
        w.add("handover", (ho_id, f"national-ho-{cert_id}", order_id, token_id, "completed", "id_card", holder["regno"],
                           "typed" if rng.random() < 0.7 else "envelope", 0, key_type, pk, cert_id,
                           f"HO-{utc(issue).year}-{ho_id:06d}", 1, officer_id, utc(issue - 900), utc(issue), utc(issue)))
        # What happens during its life.
        status, revoked_at, reason, token_status = "valid", None, None, "active"
        nxt, next_kind, departed = None, "renewal", False
        event = self.pick(D.EVENTS + (("none", 1.0),))
        at = issue + DAY + rng.random() * max(0.0, min(end, self.now) - issue - DAY)
        if event != "none" and at < self.now:
            if event == "found":
                released = at + 2 * HOUR + rng.random() * 10 * DAY
                self.hold(holder, cert_id, serial, token_id, at, released)
                if released >= self.now:
                    status, reason, token_status = "suspended", "certificateHold", "suspended"
                event = "none"
            elif event == "lost":
                revoked_at = at + max(0.5 * HOUR, self.lognormal_hours(5, 1.2))
                self.hold(holder, cert_id, serial, token_id, at, None)
                if revoked_at < self.now:
                    status, reason, token_status = "revoked", "keyCompromise", "lost"
                    self.revocation(holder, cert_id, serial, token_id, "keyCompromise", at, revoked_at, channel="holder")
                    self.token_move(token_id, "lost", revoked_at)
                else:
                    status, reason, token_status, revoked_at = "suspended", "certificateHold", "suspended", None
                    self.revocation(holder, cert_id, serial, token_id, "keyCompromise", at, None, channel="holder")
                nxt, next_kind = at + (1 + rng.random() * 6) * DAY, "new"
            else:
                received = self.work(at) if event != "superseded" else at
                revoked_at = received + max(0.3 * HOUR, self.lognormal_hours(3, 1.1))
                if revoked_at >= self.now:
                    self.revocation(holder, cert_id, serial, token_id, event, received, None)
                    revoked_at = None
                else:
                    status, reason = "revoked", event
                    self.revocation(holder, cert_id, serial, token_id, event, received, revoked_at)
                    if event in ("affiliationChanged", "cessationOfOperation"):
                        token_status = "damaged" if event == "cessationOfOperation" and rng.random() < 0.4 else "returned"
                        self.token_move(token_id, token_status, revoked_at)
                        token_status = self.after_return(token_id, token_status, revoked_at)
                if event == "affiliationChanged":
                    if rng.random() < 2 / 3:
                        nxt, next_kind = at + (0.5 + rng.random() * 5) * DAY, "position_change"
                    else:
                        departed = True
                elif event == "cessationOfOperation":
                    nxt, next_kind = (at + (1 + rng.random() * 20) * DAY, "new") if rng.random() < 0.5 else (None, "new")
                else:
                    nxt, next_kind = at, "renewal"
        if event == "none" and status != "revoked":
            r = rng.random()
            if r < D.RENEW_SHARE:
                nxt, next_kind = end - (3 + rng.random() * 42) * DAY, "renewal"
            elif r < D.RENEW_SHARE + (1 - D.RENEW_SHARE) * D.RETURN_LATER_SHARE:
                nxt, next_kind = end + (30 + rng.random() * 370) * DAY, "new"
        if rng.random() < 0.04:
            self.unblock(holder, token_id, issue + rng.random() * (min(end, self.now) - issue))
        w.add("certificate", (cert_id, req_id, serial, "G2" if gen2 else "G1", "embedded", issuer, subject, utc(issue - 300),
                              utc(end), "(national demo: no certificate)", holder["profile"], order_id, holder["id"],
                              token_id, pk, status, utc(revoked_at) if revoked_at else None, reason, utc(issue)))
        self.token(token_id, issue, token_status, holder)
        return nxt, next_kind, departed

    # -- pieces of a life ---------------------------------------------------------------------------------------------
    def token(self, token_id, issue, status, holder) -> None:
        received = max(self.start - 60 * DAY, issue - (10 + self.rng.random() * 110) * DAY)
        key = (utc(received).year, utc(received).month)
        batch = self.batches.get(key)
        if batch is None:
            batch = self.batches[key] = self.w.new_id("token_batch")
            self.w.add("token_batch", (batch, f"NAT{key[0]}{key[1]:02d}{batch:05d}", "SafeNet eToken 5110",
                                       "Мэдээлэл технологийн ХХК", date(key[0], key[1], 1), "national demo",
                                       utc(received)))
        self.w.add("token", (token_id, f"NT{token_id:010d}", batch, status, holder["name"][:32] if status != "in_stock"
                             else "RA-STOCK", utc(issue), utc(received), utc(issue - 600)))

    def stock(self) -> None:
        for _ in range(self.scale.stock):
            tid = self.w.new_id("token")
            received = self.now - self.rng.random() * 180 * DAY
            key = (utc(received).year, utc(received).month)
            batch = self.batches.get(key)
            if batch is None:
                batch = self.batches[key] = self.w.new_id("token_batch")
                self.w.add("token_batch", (batch, f"NAT{key[0]}{key[1]:02d}{batch:05d}", "SafeNet eToken 5110",
                                           "Мэдээлэл технологийн ХХК", date(key[0], key[1], 1), "national demo",
                                           utc(received)))
            self.w.add("token", (tid, f"NT{tid:010d}", batch, "in_stock", "RA-STOCK", utc(received), utc(received), None))

    def token_move(self, token_id, target: str, at: float, frm: str = "active", actor=None) -> None:
        oid, email = actor or self.officer()
        self.audit.add(at, oid, email, f"token.{target}", "token", token_id, details(**{"from": frm, "to": target}))

    def after_return(self, token_id, status: str, at: float) -> str:
        """Returned and damaged tokens are wiped for reuse or destroyed later."""
        r, later = self.rng.random(), at + (1 + self.rng.random() * 30) * DAY
        if later >= self.now or r > 0.85:
            return status
        target = "in_stock" if r < 0.6 else "destroyed"
        self.token_move(token_id, target, later, frm=status)
        return target

    def hold(self, holder, cert_id, serial, token_id, at: float, released: float | None) -> None:
        officer = self.officer()
        done = at + 60 + self.rng.random() * 900
        self.revocation(holder, cert_id, serial, token_id, "certificateHold", at, done, channel="holder", approve=False)
        self.audit.add(done, officer[0], officer[1], "certificate.suspended", "certificate", cert_id,
                       details(**{"from": "valid", "to": "suspended", "serial": serial}))
        self.token_move(token_id, "suspended", done, actor=officer)
        if released is not None and released < self.now:
            self.revocation(holder, cert_id, serial, token_id, "removeFromCRL", released - 600, released,
                            approve=False, channel="officer")
            self.audit.add(released, officer[0], officer[1], "certificate.valid", "certificate", cert_id,
                           details(**{"from": "suspended", "to": "valid", "serial": serial}))
            self.token_move(token_id, "active", released, frm="suspended", actor=officer)

    def revocation(self, holder, cert_id, serial, token_id, reason, received, completed, *, channel="registrar",
                   approve=True) -> None:
        rng, w = self.rng, self.w
        rid = w.new_id("revocation_request")
        year = utc(received).year
        number = f"ЦХ-{year}/{self.number('revocation', year):05d}"
        officer_id, officer_email = self.officer()
        approved = received + (completed - received) * 0.6 if completed else None
        published = completed + 60 + rng.random() * 1800 if completed else None
        status = "completed" if completed else ("awaiting_confirmation" if reason == "keyCompromise" else "awaiting_approval")
        requester = {"registrar": holder["registrar_email"], "holder": holder["email"]}.get(channel, officer_email)
        w.add("revocation_request", (rid, number, cert_id, serial, holder["org"], holder["id"], token_id, reason,
                                     channel, status, "", holder["registrar"] if channel == "registrar" else None,
                                     requester, officer_id if reason == "keyCompromise" and completed else None,
                                     utc(received), utc(approved) if approved else None, utc(completed) if completed else None,
                                     utc(completed) if completed else None, utc(published) if published else None,
                                     None, 1 if completed else 0, "", utc(received)))
        if approve and approved is not None:
            w.add("revocation_approval", (w.new_id("revocation_approval"), rid, officer_id, "approve", "", utc(approved)))
        if completed and reason not in ("certificateHold", "removeFromCRL"):
            self.audit.add(completed, officer_id, officer_email, "certificate.revoked", "certificate", cert_id,
                           details(**{"from": "valid", "to": "revoked", "reason": reason, "serial": serial}))

    def unblock(self, holder, token_id, at: float) -> None:
        if self.rng.random() < 0.75:
            oid, email = self.officer()
            self.audit.add(at, oid, email, "token.unblocked", "token", token_id, details(channel="counter"))
        else:
            self.audit.add(at, None, holder["email"], "token.unblocked", "token", token_id, details(channel="remote"))

    def rejected_order(self, holder, submitted: float) -> None:
        oid = self.w.new_id("certificate_order")
        decided = submitted + self.lognormal_hours(20)
        officer_id, email = self.officer()
        self.w.add("certificate_order", (oid, holder["org"], holder["id"], holder["profile"], "rsa2048", "new",
                                         "rejected", holder["registrar"], utc(submitted), utc(submitted), officer_id,
                                         utc(decided), "Баримт дутуу", None, None, None, None))
        self.audit.add(decided, officer_id, email, "order.rejected", "order", oid,
                       details(**{"from": "submitted", "to": "rejected", "reason": "Баримт дутуу"}))

    def open_order(self, holder, kind: str) -> None:
        oid = self.w.new_id("certificate_order")
        submitted = self.now - self.rng.random() * 10 * DAY
        self.w.add("certificate_order", (oid, holder["org"], holder["id"], holder["profile"], "rsa2048", kind,
                                         "submitted", holder["registrar"], utc(submitted), utc(submitted), None, None,
                                         None, None, None, None, None))

    def slot(self, ts: float) -> tuple[int, float]:
        counter = self.counter_ids[self.rng.randrange(len(self.counter_ids))]
        start = math.floor((ts + LOCAL) / SLOT) * SLOT - LOCAL
        entry = self.slots.get((counter, start))
        if entry is None:
            entry = self.slots[(counter, start)] = [self.w.new_id("appointment_slot"), 0]
        entry[1] += 1
        return entry[0], start

    def appointments(self, order_id, holder, decided: float, issue: float) -> None:
        """The appointment kept at the handover, sometimes after a missed or cancelled one."""
        rng, w = self.rng, self.w
        booked = decided + min(issue - decided, HOUR + rng.random() * DAY) * 0.5
        seq = 0
        r = rng.random()
        if r < 0.08 and issue - booked > 2 * DAY:
            slot_id, start = self.slot(booked + (issue - booked) * 0.3)
            missed = r < 0.05  # a no-show, moved once its time had passed; else cancelled ahead
            moved = start + SLOT + rng.random() * (issue - start - SLOT) * 0.5 if missed else booked + HOUR
            status = "rescheduled" if missed else "cancelled"
            w.add("appointment", (w.new_id("appointment"), order_id, slot_id, status, seq, holder["registrar"], utc(booked),
                                  holder["registrar"] if not missed else None, None if missed else utc(moved),
                                  None if missed else "Өвчтэй"))
            booked, seq = (moved if missed else moved), seq + 1
        slot_id, _ = self.slot(issue)
        w.add("appointment", (w.new_id("appointment"), order_id, slot_id, "attended", seq, holder["registrar"],
                              utc(min(booked, issue - 60)), None, None, None))


def _bisect(cum: list[float], x: float) -> int:
    lo, hi = 0, len(cum)
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo
