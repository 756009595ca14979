def test_start_page_speaks_mongolian_first(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert 'lang="mn"' in resp.get_data(as_text=True)
