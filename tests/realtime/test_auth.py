"""realtime.auth: the socket's user, loaded with few fields.

Bad tokens of every kind (deleted or inactive user included) are covered end to
end in tests/chat/test_ws_connect_auth.py.
"""

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from realtime.auth import SOCKET_USER_FIELDS, AuthFailed, authenticate_token

pytestmark = pytest.mark.django_db


def test_the_socket_user_carries_only_what_the_server_reads(alice):
    alice.first_name, alice.is_staff = "爱丽丝", True
    alice.save()
    user = authenticate_token(str(AccessToken.for_user(alice)))
    assert user.pk == alice.pk and user.username == alice.username
    assert user.first_name == "爱丽丝" and user.is_staff is True
    assert user.is_active is True and user.is_superuser is False
    assert user.date_joined == alice.date_joined  # a datetime, converted
    deferred = user.get_deferred_fields()
    assert {"password", "email", "last_login"} <= deferred
    assert not deferred & set(SOCKET_USER_FIELDS)


def test_a_token_of_a_user_that_is_gone_fails(alice):
    token = str(AccessToken.for_user(alice))
    alice.delete()
    with pytest.raises(AuthFailed):
        authenticate_token(token)
