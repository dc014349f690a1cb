from django import template

from classifier.taxonomy import load_taxonomy

register = template.Library()


@register.filter
def dx_label(code: str) -> str:
    """The taxonomy's name for a fine diagnosis code ("mel" -> "Melanoma")."""
    diagnosis = load_taxonomy().diagnoses.get(str(code))
    return diagnosis.label if diagnosis else str(code)


@register.filter
def get_item(mapping: object, key: str) -> object:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def sorted_items(mapping: object) -> list[tuple[str, object]]:
    """A stored report's mapping by key: PostgreSQL's jsonb keeps no key order (it sorts keys
    by length), so ``{"akiec", "bcc", "bkl"}`` would come back as bcc, bkl, akiec."""
    if not isinstance(mapping, dict):
        return []
    return sorted(mapping.items(), key=lambda item: str(item[0]))
