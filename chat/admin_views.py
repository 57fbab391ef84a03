"""Admin pages beyond ModelAdmin's own: the form of the `mute_senders` and
`ban_senders` actions, and a moderator's live view of a room. Both write only
through `chat.services`, like every other admin path."""

from datetime import datetime, timedelta

from asgiref.sync import async_to_sync

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone

from chat import selectors, services
from chat.models import ChatMessage, Room, Sanction
from chat.room_types import RULES

DURATIONS: dict[str, tuple[str, timedelta | None]] = {
    "10m": ("10 分钟", timedelta(minutes=10)),
    "1h": ("1 小时", timedelta(hours=1)),
    "1d": ("1 天", timedelta(days=1)),
    "7d": ("7 天", timedelta(days=7)),
    "30d": ("30 天", timedelta(days=30)),
    "forever": ("永久", None),
}


class SanctionForm(forms.Form):
    """How long, where and why: the sanction of the selected messages' senders."""

    scope = forms.ChoiceField(
        choices=[("room", "in the message's room"), ("site", "site-wide")],
        initial="room",
        widget=forms.RadioSelect,
    )
    duration = forms.ChoiceField(
        choices=[(key, label) for key, (label, _) in DURATIONS.items()],
        initial="1h",
    )
    reason = forms.CharField(max_length=500)

    def ends_at(self) -> datetime | None:
        return ends_after(self.cleaned_data["duration"])


def ends_after(duration: str) -> datetime | None:
    """Return when a sanction of `duration` (a DURATIONS key) taken now ends."""
    length = DURATIONS[duration][1]
    return None if length is None else timezone.now() + length


def too_many(model_admin, request: HttpRequest, queryset) -> bool:
    """Refuse an action over more than ADMIN_ACTION_MAX_ROWS rows (told why)."""
    limit = settings.ADMIN_ACTION_MAX_ROWS
    if len(queryset[: limit + 1]) <= limit:
        return False
    model_admin.message_user(
        request,
        f"More than {limit} rows selected: narrow the selection with the filters.",
        messages.ERROR,
    )
    return True


def senders_sanction_action(
    model_admin, request: HttpRequest, queryset, kind: str
) -> TemplateResponse | None:
    """Ask for duration, scope and reason, then ban or mute the senders."""
    if too_many(model_admin, request, queryset):
        return None
    selected = list(queryset.select_related("room", "sender"))
    form = SanctionForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        sanctions = services.senders_sanction(
            messages=selected,
            kind=kind,
            site_wide=form.cleaned_data["scope"] == "site",
            ends_at=form.ends_at(),
            reason=form.cleaned_data["reason"],
            actor=request.user,
        )
        verb = "Banned" if kind == Sanction.Kind.BAN else "Muted"
        model_admin.message_user(
            request, f"{verb} {len(sanctions)} sender(s).", messages.SUCCESS
        )
        return None
    senders = sorted(
        {(m.sender.get_username(), m.room.room_id) for m in selected if m.sender}
    )
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"{Sanction.Kind(kind).label}: the senders of "
        f"{len(selected)} message(s)",
        "opts": opts,
        "form": form,
        "action": f"{kind}_senders",
        "selected": [m.pk for m in selected],
        "senders": senders,
        "assistant_skipped": any(m.sender_id is None for m in selected),
    }
    return TemplateResponse(request, "admin/chat/sanction_senders.html", context)


# --- the live room page -----------------------------------------------------------


class LiveActionForm(forms.Form):
    """The live page's one form: every button posts it with its own name."""

    scope = forms.ChoiceField(
        choices=[("room", "this room"), ("site", "site-wide")], required=False
    )
    duration = forms.ChoiceField(
        choices=SanctionForm.base_fields["duration"].choices, required=False
    )
    reason = forms.CharField(max_length=500, required=False)
    slow_mode_seconds = forms.IntegerField(min_value=0, required=False)

    def clean(self) -> dict:
        data = super().clean()
        data["scope"] = data.get("scope") or "room"
        data["duration"] = data.get("duration") or "1h"
        return data


def room_live_view(model_admin, request: HttpRequest, object_id: str) -> HttpResponse:
    """Who is in the room now, its recent messages with hide/mute/ban, its slow
    mode; refreshes itself every ADMIN_ROOM_LIVE_REFRESH_SECONDS."""
    room = get_object_or_404(Room, pk=object_id)
    if not model_admin.has_view_permission(request, room):
        raise PermissionDenied
    if request.method == "POST":
        _live_action(request, room)
        return HttpResponseRedirect(request.path)
    context = _live_context(request, room)
    if request.GET.get("partial"):
        return TemplateResponse(request, "admin/chat/room_live_region.html", context)
    return TemplateResponse(
        request,
        "admin/chat/room_live.html",
        {
            **model_admin.admin_site.each_context(request),
            **context,
            "opts": Room._meta,
            "original": room,
            "title": f"Live: {room.room_id}",
            "form": LiveActionForm(initial={"duration": "1h"}),
            "refresh_ms": int(settings.ADMIN_ROOM_LIVE_REFRESH_SECONDS * 1000),
            "refresh_seconds": settings.ADMIN_ROOM_LIVE_REFRESH_SECONDS,
        },
    )


def _live_context(request: HttpRequest, room: Room) -> dict:
    recent = list(
        ChatMessage.objects.filter(room=room).order_by("-seq")[
            : settings.ADMIN_ROOM_LIVE_MESSAGES
        ]
    )
    senders = {m.sender_id for m in recent if m.sender_id}
    held: dict[int, list[Sanction]] = {}
    for sanction in selectors.sanctions_active().filter(
        Q(room=room) | Q(room__isnull=True), user_id__in=senders
    ):
        held.setdefault(sanction.user_id, []).append(sanction)
    rows = [(m, held.get(m.sender_id, [])) for m in recent]
    user = request.user
    return {
        "room": room,
        # The sync view runs in the ASGI server's worker thread: async_to_sync
        # reads the presence store the sockets of this process use.
        "online": async_to_sync(selectors.room_online_count)(room_pk=room.pk),
        "online_users": _online_users(room),
        "slow_mode": RULES[room.room_type].effective_slow_mode(room.slow_mode_seconds),
        "rows": rows,
        "may_hide": user.has_perm("chat.change_chatmessage"),
        "may_sanction": user.has_perm("chat.add_sanction"),
        "may_change_room": user.has_perm("chat.change_room"),
    }


def _online_users(room: Room) -> list:
    """Who is in the room now (the first ADMIN_ROOM_LIVE_MESSAGES of them)."""
    ids = async_to_sync(selectors.room_online_users)(
        room_pk=room.pk, limit=settings.ADMIN_ROOM_LIVE_MESSAGES
    )
    users = get_user_model().objects.filter(pk__in=ids).only("username", "first_name")
    return sorted(users, key=lambda u: u.get_username())


def _live_action(request: HttpRequest, room: Room) -> None:
    """Run the one action the pressed button names; tell the moderator."""
    form = LiveActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not done: {form.errors.as_text()}")
        return
    pressed = next((n for n in ("hide", "mute", "ban") if n in request.POST), None)
    if pressed:
        message = get_object_or_404(
            ChatMessage.objects.select_related("room", "sender"),
            pk=request.POST[pressed],
            room=room,
        )
        _message_action(request, pressed, message, form.cleaned_data)
    else:
        _room_action(request, room, form.cleaned_data)


def _message_action(
    request: HttpRequest, pressed: str, message: ChatMessage, data: dict
) -> None:
    actor = request.user
    if pressed == "hide":
        _require(actor, "chat.change_chatmessage")
        services.message_hide(message=message, actor=actor, reason=data["reason"])
        messages.success(request, f"Hid message {message.public_id}.")
        return
    _require(actor, "chat.add_sanction")
    if message.sender is None:
        messages.error(request, "Not done: the assistant is not sanctioned.")
        return
    if not data["reason"]:
        messages.error(request, "Not done: a ban or mute needs a reason.")
        return
    services.sanction_apply(
        user=message.sender,
        kind=pressed,
        room=None if data["scope"] == "site" else message.room,
        ends_at=ends_after(data["duration"]),
        reason=data["reason"],
        actor=actor,
    )
    messages.success(request, f"{pressed.title()}: {message.sender.get_username()}.")


def _room_action(request: HttpRequest, room: Room, data: dict) -> None:
    actor = request.user
    _require(actor, "chat.change_room")
    if "close" in request.POST:
        services.room_close(room=room, actor=actor, reason=data["reason"])
        messages.success(request, "Room closed.")
    elif "reopen" in request.POST:
        services.room_reopen(room=room, actor=actor, reason=data["reason"])
        messages.success(request, "Room reopened.")
    elif "slow_mode" in request.POST:
        services.room_slow_mode_set(
            room=room,
            seconds=data["slow_mode_seconds"],
            actor=actor,
            reason=data["reason"],
        )
        messages.success(request, "Slow mode set.")


def _require(user, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied
