from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from readerstudy.accounts.forms import LoginForm
from readerstudy.accounts.services import api_token_regenerate


class LoginView(auth_views.LoginView):
    """Django's login (which rotates the session key) in the site's own look."""

    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """A new account's one-time link: the page names the account; choosing a password logs
    the user in (the session key is new) and takes them to their home page."""

    template_name = "accounts/password_set.html"
    post_reset_login = True
    # Two backends are configured (axes, then this one): login() must be told which.
    post_reset_login_backend = "readerstudy.accounts.backends.RoleModelBackend"
    success_url = reverse_lazy(settings.LOGIN_REDIRECT_URL)

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(
            self.request, f"Your password is set; you are logged in as {form.user.get_username()}."
        )
        return response


class PasswordSetDoneView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_set_done.html"


class LogoutView(auth_views.LogoutView):
    """Logout by POST only; the session is deleted server-side, so an old cookie is dead."""


@login_required
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """Show whether the user has an API token and issue a new one on request.

    A new token is displayed once, right after it is made; afterwards only its existence
    is shown.
    """
    new_key = None
    if request.method == "POST":
        new_key = api_token_regenerate(user=request.user).key  # type: ignore[arg-type]
        messages.success(request, "A new API token was issued; the previous one no longer works.")
    has_token = Token.objects.filter(user=request.user).exists()  # type: ignore[misc]
    return render(request, "accounts/api_token.html", {"new_key": new_key, "has_token": has_token})


def locked_out(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    """django-axes' answer to a locked account (AXES_LOCKOUT_CALLABLE), with the lockout time
    that is configured."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(request, "accounts/locked.html", {"lockout_minutes": minutes}, status=429)
