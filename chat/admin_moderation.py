"""Moderation records in Django admin: sanctions, the word list, the log, and
each user's sanctions and log on their page. Writes go through the services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from chat import admin_views, services
from chat.admin_lists import (
    ActiveFilter,
    ActorFilter,
    BigListAdmin,
    RoomFilter,
    ScopeFilter,
    TargetFilter,
    UserFilter,
    history_html,
    preview,
    target_history,
)
from chat.models import ModerationLog, Sanction, SensitiveWord
from chat.selectors import sanctions_active
from chat.words import normalize

User = get_user_model()


@admin.register(Sanction)
class SanctionAdmin(BigListAdmin):
    """Bans and mutes. Ending one early sets its end to now ("Lift"); none is
    deleted, so the record stays."""

    list_display = (
        "id",
        "user",
        "kind",
        "scope",
        "ends_at",
        "in_force",
        "reason_preview",
        "created_by",
        "created_at",
    )
    list_filter = ("kind", ActiveFilter, ScopeFilter, UserFilter, RoomFilter)
    date_hierarchy = "created_at"
    list_select_related = ("user", "room", "created_by")
    autocomplete_fields = ("user", "room")
    actions = ["lift_sanctions"]

    @admin.display(description="room")
    def scope(self, obj: Sanction) -> str:
        return obj.room.room_id if obj.room_id else "site-wide"

    @admin.display(description="in force", boolean=True)
    def in_force(self, obj: Sanction) -> bool:
        return obj.is_active()

    @admin.display(description="reason")
    def reason_preview(self, obj: Sanction) -> str:
        return preview(obj.reason)

    @admin.display(description="moderation log")
    def moderation_history(self, obj: Sanction):
        return target_history(obj)

    def get_fields(self, request, obj=None):
        fields = ["user", "room", "kind", "ends_at", "reason"]
        if obj is not None:
            fields += ["created_by", "created_at", "moderation_history"]
        return fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (
            "user",
            "room",
            "kind",
            "created_by",
            "created_at",
            "moderation_history",
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # lift instead: the record stays

    def save_model(self, request, obj: Sanction, form, change: bool) -> None:
        if change:
            services.sanction_update(
                sanction=obj, ends_at=obj.ends_at, reason=obj.reason, actor=request.user
            )
            return
        applied = services.sanction_apply(
            user=obj.user,
            kind=obj.kind,
            room=obj.room,
            ends_at=obj.ends_at,
            reason=obj.reason,
            actor=request.user,
        )
        obj.pk = applied.pk  # may be the active one it replaced

    @admin.action(description="Lift the selected sanctions now", permissions=["change"])
    def lift_sanctions(self, request, queryset):
        if admin_views.too_many(self, request, queryset):
            return
        done = sum(
            services.sanction_lift(sanction=s, actor=request.user)
            for s in queryset.select_related("user", "room")
        )
        self.message_user(request, f"Lifted {done} sanction(s).", messages.SUCCESS)


class SensitiveWordForm(forms.ModelForm):
    class Meta:
        model = SensitiveWord
        fields = ("word", "action", "note")

    def clean_word(self) -> str:
        word = self.cleaned_data["word"].strip()
        key = normalize(word)
        if not key:
            raise forms.ValidationError("Enter a word.")
        taken = SensitiveWord.objects.filter(normalized=key).exclude(
            pk=self.instance.pk
        )
        if taken.exists():
            raise forms.ValidationError(
                f"Already listed as “{taken[0].word}” (the same after NFKC and "
                "case folding)."
            )
        return word


@admin.register(SensitiveWord)
class SensitiveWordAdmin(BigListAdmin):
    """The content filter's words: block refuses the message, mask replaces the
    word by ＊. Matched after NFKC and case folding; applies on every process
    within CHAT_WORDS_CHECK_SECONDS."""

    form = SensitiveWordForm
    list_display = ("word", "action", "note", "created_by", "updated_at")
    list_filter = ("action",)
    list_select_related = ("created_by",)
    search_fields = ("word", "normalized")
    fields = ("word", "action", "note", "moderation_history")
    readonly_fields = ("moderation_history",)

    @admin.display(description="moderation log")
    def moderation_history(self, obj: SensitiveWord):
        return target_history(obj)

    def save_model(self, request, obj: SensitiveWord, form, change: bool) -> None:
        before = {name: form.initial.get(name) for name in ("word", "action", "note")}
        services.word_save(word=obj, actor=request.user, before=before)

    def delete_model(self, request, obj: SensitiveWord) -> None:
        services.word_delete(word=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for word in queryset:
            services.word_delete(word=word, actor=request.user)


@admin.register(ModerationLog)
class ModerationLogAdmin(BigListAdmin):
    """Every moderation action, by any path. Read-only."""

    list_display = (
        "created_at",
        "actor_name",
        "action",
        "target",
        "room",
        "user",
        "reason_preview",
        "change",
    )
    list_filter = ("action", ActorFilter, UserFilter, RoomFilter, TargetFilter)
    date_hierarchy = "created_at"
    list_select_related = ("room", "user")

    @admin.display(description="target")
    def target(self, obj: ModerationLog) -> str:
        app_label, _, model = obj.target_type.partition(".")
        try:
            url = reverse(f"admin:{app_label}_{model}_change", args=[obj.target_id])
        except NoReverseMatch:  # a model without an admin page
            return obj.target_repr
        return format_html("<a href='{}'>{}</a>", url, obj.target_repr)

    @admin.display(description="reason")
    def reason_preview(self, obj: ModerationLog) -> str:
        return preview(obj.reason)

    @admin.display(description="before → after")
    def change(self, obj: ModerationLog) -> str:
        if obj.before is None and obj.after is None:
            return "—"
        return preview(f"{obj.before or '—'} → {obj.after or '—'}")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- users: their sanctions and log on their page ----------------------------------


class SanctionInline(admin.TabularInline):
    model = Sanction
    fk_name = "user"
    fields = ("kind", "room", "ends_at", "reason", "created_by", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-pk",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("room", "created_by")


class ModeratedUserAdmin(UserAdmin):
    """Django's user admin, with the user's sanctions and moderation log."""

    inlines = [*UserAdmin.inlines, SanctionInline]
    readonly_fields = (*UserAdmin.readonly_fields, "active_sanctions", "moderation")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        extra = ("Moderation", {"fields": ("active_sanctions", "moderation")})
        return (*fieldsets, extra)

    @admin.display(description="in force now")
    def active_sanctions(self, obj) -> str:
        found = sanctions_active().filter(user=obj).select_related("room")
        return ", ".join(str(s) for s in found) or "—"

    @admin.display(description="moderation log")
    def moderation(self, obj):
        return history_html(ModerationLog.objects.filter(user=obj), user=str(obj.pk))


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ModeratedUserAdmin)
