"""Deriving and re-sharing: the ceiling a derived item inherits (charter art. 17(3)).

SPEC rule 2: re-sharing is deriving; there is no other way to pass an item on.
A derived item carries, as `SourceConstraint`s, the scope, TLP and secrecy of
every source whose provider has not consented to reach further.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from broker.domain.model import Body, ItemFacts, Reader, SourceConstraint, Tlp
from broker.tlp._decision import Decision, Reason
from broker.tlp._reading import may_read
from broker.tlp._routing import receives
from broker.tlp._scope import in_scope


def may_derive(reader: Reader, source: ItemFacts) -> Decision:
    """Whether `reader` may build a new item from `source` (that is, re-share it).

    The reader must be able to open the source, and TLP:RED information can
    be passed on only by the body that provided it.
    """
    reasons: list[Reason] = []
    read = may_read(reader, source)
    if not read:
        reasons.extend((Reason.CANNOT_READ_SOURCE, *read.reasons))
    if _red_from_others(reader.body.id, source):
        reasons.append(Reason.RED_NOT_RESHAREABLE)  # TLP 2.0: RED, SPEC rule 8
    return Decision.from_reasons(reasons)


def constraints_for_derived(
    provider_id: str,
    sources: Sequence[ItemFacts],
    consented_providers: frozenset[str] = frozenset(),
) -> tuple[SourceConstraint, ...]:
    """The ceilings an item that `provider_id` derives from `sources` must carry.

    One per source of another provider, plus every ceiling the sources carry
    themselves (flattened, so provenance chains cannot launder a ceiling),
    minus those whose provider is in `consented_providers`. A provider's own
    items add none. Order follows `sources`; repeats are dropped.
    """
    if not sources:
        return ()  # an original item: no ceilings (most submissions)
    collected: list[SourceConstraint] = []
    for source in sources:
        collected.append(
            SourceConstraint(
                source_id=source.id,
                provider_id=source.provider_id,
                scope=source.scope,
                tlp=source.tlp,
                secret=source.secret,
            )
        )
        collected.extend(source.constraints)
    kept = (
        c
        for c in collected
        # charter art. 17(3): a provider needs no consent from itself, and a
        # recorded consent lifts that provider's ceilings.
        if c.provider_id != provider_id and c.provider_id not in consented_providers
    )
    return tuple(dict.fromkeys(kept))


def reclip(item: ItemFacts, source: ItemFacts) -> ItemFacts | None:
    """`item` with every ceiling that `source` puts on it brought up to date, or None
    when nothing changes.

    SPEC §3 rule 2, charter art. 17(3): a source's ceiling is live. When its
    provider changes the source's scope, every item built on it, directly or
    through other derived items (ceilings are flattened, so a transitive one
    sits on the item itself), is clipped by the source's scope as it is now.
    A ceiling its provider consented away is gone and stays gone.
    """
    changed = False
    updated: list[SourceConstraint] = []
    for c in item.constraints:
        if c.source_id == source.id:
            fresh = dataclasses.replace(c, scope=source.scope, tlp=source.tlp, secret=source.secret)
            changed = changed or fresh != c
            updated.append(fresh)
        else:
            updated.append(c)
    if not changed:
        return None
    return dataclasses.replace(item, constraints=tuple(dict.fromkeys(updated)))


def needs_consent(item: ItemFacts, bodies: Iterable[Body]) -> frozenset[str]:
    """The providers whose consent `item` still needs to reach what it asks for.

    A source ceiling needs consent only if it actually clips the request:
    some body the item would reach without ceilings is outside that source's
    scope, or the item asks for a laxer TLP or less secrecy than the source.
    """
    if not item.constraints:
        return frozenset()  # nothing derived from others' items: no one to ask
    unclipped = dataclasses.replace(item, constraints=())
    requested = [body for body in bodies if receives(unclipped, body)]
    return frozenset(
        c.provider_id
        for c in item.constraints
        if c.tlp.rank > item.tlp.rank
        or (c.secret and not item.secret)
        or not all(in_scope(c.scope, body, c.provider_id) for body in requested)
    )


def _red_from_others(body_id: str, source: ItemFacts) -> bool:
    """Whether `source` holds TLP:RED information that `body_id` did not provide.

    The source's own label is its provider's; a ceiling's label is that
    ceiling's provider's. Only the provider of RED information may pass it on.
    """
    if source.tlp is Tlp.RED and source.provider_id != body_id:
        return True
    return any(c.tlp is Tlp.RED and c.provider_id != body_id for c in source.constraints)
