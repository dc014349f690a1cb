from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    """The stock form, with autocomplete hints that password managers understand."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["username"].widget.attrs.update({"autocomplete": "username"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})
