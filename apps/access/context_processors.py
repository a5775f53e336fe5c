from apps.access import services as access


def purpose(request):
    """The purposes the signed-in user may declare, and the one declared, for the header selector."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return {}
    return {
        "ig_purposes": access.purposes_for_user(user=user),
        "ig_purpose": request.session.get(access.SESSION_PURPOSE_KEY, ""),
    }
