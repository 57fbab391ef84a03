"""Writes to the sensitive-word list. Each bumps the list's version, which every
process checks (`chat.words`), and leaves a `ModerationLog` row."""

from django.db import transaction
from django.db.models import F

from chat.exceptions import InvalidMessage
from chat.models import ModerationLog, SensitiveWord, WordListVersion
from chat.services.moderation import moderation_log
from chat.words import normalize, words

Action = ModerationLog.Action


def _list_changed() -> None:
    if not WordListVersion.objects.filter(pk=1).update(version=F("version") + 1):
        WordListVersion.objects.update_or_create(pk=1, defaults={"version": 1})
    # This thread sees the change at once; the others once it commits.
    words.invalidate()
    transaction.on_commit(words.invalidate)


def _state(word: SensitiveWord) -> dict:
    return {"word": word.word, "action": word.action, "note": word.note}


@transaction.atomic
def word_save(
    *, word: SensitiveWord, actor=None, before: dict | None = None
) -> SensitiveWord:
    """Add or change a word (`before`: its state when the form was read)."""
    word.word = word.word.strip()
    word.normalized = normalize(word.word)
    if not word.normalized:
        raise InvalidMessage("the word is empty")
    adding = word.pk is None
    if adding:
        word.created_by = actor
    word.save()
    moderation_log(
        actor=actor,
        action=Action.WORD_ADD if adding else Action.WORD_CHANGE,
        target=word,
        before=None if adding else before,
        after=_state(word),
    )
    _list_changed()
    return word


@transaction.atomic
def words_add(*, items: list[tuple[str, str]], actor=None) -> int:
    """Add many words at once (word, action), skipping those already listed;
    one log row per word, one version bump. Return how many were added."""
    known = set(SensitiveWord.objects.values_list("normalized", flat=True))
    fresh: dict[str, SensitiveWord] = {}
    for text, action in items:
        text = text.strip()
        key = normalize(text)
        if key and key not in known and key not in fresh:
            fresh[key] = SensitiveWord(
                word=text, normalized=key, action=action, created_by=actor
            )
    created = SensitiveWord.objects.bulk_create(fresh.values(), batch_size=500)
    ModerationLog.objects.bulk_create(
        [
            ModerationLog(
                actor=actor,
                actor_name=actor.get_username() if actor else "system",
                action=Action.WORD_ADD,
                target_type=SensitiveWord._meta.label_lower,
                target_id=str(w.pk or ""),
                target_repr=w.word,
                after=_state(w),
            )
            for w in created
        ],
        batch_size=500,
    )
    if created:
        _list_changed()
    return len(created)


@transaction.atomic
def word_delete(*, word: SensitiveWord, actor=None) -> None:
    moderation_log(
        actor=actor, action=Action.WORD_DELETE, target=word, before=_state(word)
    )
    word.delete()
    _list_changed()
