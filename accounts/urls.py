from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.views import AccountPage, RevokeTokenView

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", AccountPage.as_view(), name="account"),
    path("account/tokens/<int:pk>/revoke/", RevokeTokenView.as_view(), name="token-revoke"),
]
