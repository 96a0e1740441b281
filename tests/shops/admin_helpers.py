"""Admin test helpers shared by tests/shops and tests/aftersales."""

from django.contrib.messages import get_messages

from tests.logins import signed_in

client_for = signed_in


def listed(response) -> set:
    """Primary keys of the rows a changelist response shows."""
    assert response.status_code == 200, response.status_code
    return {obj.pk for obj in response.context["cl"].result_list}


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]
