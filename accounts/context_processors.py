from accounts.roles import role_of


def role(request):
    """`role` in every template: pages show the badge and lock controls by it (spec §5.1)."""
    user = getattr(request, "user", None)
    if user is None:
        return {"role": None}
    return {"role": role_of(user)}
