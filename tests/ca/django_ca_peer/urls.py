from django.urls import include, path

urlpatterns = [path("django_ca/", include("django_ca.urls"))]
