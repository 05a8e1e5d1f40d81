"""The sign-up form: Django's, with an e-mail address for password reset links."""

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="For password reset links.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
