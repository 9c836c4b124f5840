"""Content negotiation of ``predict``: which answer type a request's ``Accept`` header wants.

Clients send full ``Accept`` headers: axios ``application/json, text/plain, */*``, browsers
``text/html,application/xhtml+xml,...,*/*;q=0.8``, curl ``*/*``.  :func:`negotiate` picks
one of the types the service produces by the rules of RFC 9110 (section 12.5.1): the most
specific range that matches a type gives its quality, the type with the highest quality
wins, ties go to the service's order (JSON first), quality 0 refuses a type.
"""

#: The answer types of ``predict``, preferred first.
OFFERED = ("application/json", "text/tab-separated-values", "image/png")


def _ranges(header):
    """``[(type, subtype, q)]`` of an ``Accept`` header (malformed items skipped)."""
    out = []
    for item in str(header).split(","):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        if media.count("/") != 1:
            continue
        kind, sub = (x.strip() for x in media.split("/"))
        if not kind or not sub or (kind == "*" and sub != "*"):
            continue
        q = 1.0
        for param in parts[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0  # malformed quality: the item is ignored
                break
        if 0.0 <= q <= 1.0:
            out.append((kind, sub, q))
    return out


def quality(media_type, header):
    """Quality (0..1) that ``header`` gives ``media_type``: its most specific matching range."""
    kind, sub = media_type.lower().split("/")
    best, best_rank = 0.0, -1
    for rkind, rsub, q in _ranges(header):
        if (rkind, rsub) == (kind, sub):
            rank = 2
        elif rkind == kind and rsub == "*":
            rank = 1
        elif (rkind, rsub) == ("*", "*"):
            rank = 0
        else:
            continue
        if rank > best_rank or (rank == best_rank and q > best):
            best, best_rank = q, rank
    return best


def negotiate(header, offered=OFFERED):
    """The type of ``offered`` to answer with, or ``None`` when the header accepts none.

    A missing or empty header, or one without any valid item, accepts everything: the first
    offered type.

    Examples
    --------
    >>> negotiate("application/json, text/plain, */*")
    'application/json'
    >>> negotiate("text/*")
    'text/tab-separated-values'
    >>> negotiate("image/png;q=0.9, application/json;q=0.5")
    'image/png'
    >>> negotiate("text/html") is None
    True
    """
    if header is None or not str(header).strip() or not _ranges(header):
        return offered[0]
    scored = [(quality(t, header), -i, t) for i, t in enumerate(offered)]
    q, _, best = max(scored)
    return best if q > 0 else None
