import pytest
from django.contrib.auth.models import User


@pytest.fixture
def staff(client):
    """The test client, logged in as a member of staff."""
    user = User.objects.create_user("ops", password="a-long-test-password", is_staff=True)
    client.force_login(user)
    return client
