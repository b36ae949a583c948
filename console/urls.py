from django.urls import path

from console.views import favicon

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
]
