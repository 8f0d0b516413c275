"""The asset registry: one canonical id per asset, its source ids, calendar and group tags.

Canonical ids are the CoinGecko id for crypto (``bittensor``) and the Yahoo symbol for equities, ETFs and
indices (``NVDA``, ``000660.KS``, ``^GSPC``). Look-ups accept the id, the ticker symbol or the name, in any case.

Examples
--------
>>> resolve("tao").id
'bittensor'
>>> [a.symbol for a in group("hyperscaler")]
['MSFT', 'GOOGL', 'AMZN', 'META', 'ORCL']
"""

from __future__ import annotations

from typing import Iterable, NamedTuple


class UnknownAssetError(KeyError):
    """An asset or group name that the registry does not know. The message lists the closest valid names."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it one plain line
        return str(self.args[0])


class Asset(NamedTuple):
    """One tradable series (an immutable record: a NamedTuple, cheap to import for a fast ``capflow list``).

    Attributes
    ----------
    id : str
        Canonical id (CoinGecko id for crypto, Yahoo symbol otherwise); the column name in every frame.
    symbol : str
        Short display symbol (TAO, NVDA, SK Hynix is ``000660.KS``).
    name : str
        Human name.
    kind : str
        ``crypto``, ``equity``, ``etf`` or ``index``.
    coingecko_id, yahoo : str or None
        Source identifiers (``yahoo`` is set for equities, ETFs and indices only).
    calendar : str
        ``24/7`` for crypto, else an exchange_calendars code (``XNYS``, ``XKRX``).
    currency : str
        Quote currency of the price series.
    tags : tuple of str
        Group tags (``ai_token``, ``crypto_major``, ``ai_equity``, ``hyperscaler``, ``semis_etf``, ``benchmark``,
        ``crypto_equity``).
    binance_spot, binance_perp : str or None
        Binance spot symbol and USD-M perpetual symbol (both USDT-quoted, e.g. ``TAOUSDT``); None where Binance
        lists no such market. Symbols are today's names: a market renamed on Binance (RNDRUSDT -> RENDERUSDT in
        2024) is reachable under the new name only from the rename on.
    yahoo_crypto : str or None
        Yahoo Finance crypto ticker (``BTC-USD``; Yahoo appends the CoinMarketCap id where symbols collide:
        ``TAO22974-USD``); None where no ticker was confirmed.
    """

    id: str
    symbol: str
    name: str
    kind: str
    coingecko_id: str | None = None
    yahoo: str | None = None
    calendar: str = "XNYS"
    currency: str = "USD"
    tags: tuple[str, ...] = ()
    binance_spot: str | None = None
    binance_perp: str | None = None
    yahoo_crypto: str | None = None

    @property
    def is_crypto(self) -> bool:
        """True for 24/7 crypto assets."""
        return self.kind == "crypto"


def _c(cg: str, symbol: str, name: str, *tags: str, spot: str | None = "", perp: str | None = "",
       yahoo: str | None = "") -> Asset:
    """A crypto asset; ``spot``/``perp``/``yahoo`` default to ``<SYMBOL>USDT`` / ``<SYMBOL>-USD``, None: not listed."""
    return Asset(cg, symbol, name, "crypto", coingecko_id=cg, calendar="24/7", tags=tags,
                 binance_spot=f"{symbol}USDT" if spot == "" else spot,
                 binance_perp=f"{symbol}USDT" if perp == "" else perp,
                 yahoo_crypto=f"{symbol}-USD" if yahoo == "" else yahoo)


def _e(ticker: str, name: str, *tags: str, kind: str = "equity", calendar: str = "XNYS",
       currency: str = "USD", symbol: str | None = None) -> Asset:
    return Asset(ticker, symbol or ticker, name, kind, yahoo=ticker, calendar=calendar, currency=currency, tags=tags)


REGISTRY: tuple[Asset, ...] = (
    _c("bitcoin", "BTC", "Bitcoin", "crypto_major"),
    _c("ethereum", "ETH", "Ethereum", "crypto_major"),
    _c("solana", "SOL", "Solana", "crypto_major"),
    _c("binancecoin", "BNB", "BNB", "crypto_major"),
    _c("bittensor", "TAO", "Bittensor", "ai_token", yahoo="TAO22974-USD"),
    _c("near", "NEAR", "NEAR Protocol", "ai_token"),
    _c("internet-computer", "ICP", "Internet Computer", "ai_token"),
    _c("render-token", "RENDER", "Render", "ai_token"),
    _c("fetch-ai", "FET", "Artificial Superintelligence Alliance", "ai_token"),
    _c("worldcoin-wld", "WLD", "Worldcoin", "ai_token"),
    _c("akash-network", "AKT", "Akash Network", "ai_token", spot=None, yahoo=None),
    _c("venice-token", "VVV", "Venice Token", "ai_token", spot=None, yahoo="VVV35509-USD"),
    _c("virtual-protocol", "VIRTUAL", "Virtuals Protocol", "ai_token"),
    _c("ai16z", "AI16Z", "ai16z", "ai_token_extra", spot=None, yahoo=None),
    _c("aixbt", "AIXBT", "aixbt by Virtuals", "ai_token_extra", yahoo=None),
    _c("arkham", "ARKM", "Arkham", "ai_token_extra"),
    _c("the-graph", "GRT", "The Graph", "ai_token_extra", yahoo="GRT6719-USD"),
    _c("ocean-protocol", "OCEAN", "Ocean Protocol", "ai_token_extra"),
    _c("singularitynet", "AGIX", "SingularityNET", "ai_token_extra"),
    _e("NVDA", "NVIDIA", "ai_equity"),
    _e("AMD", "Advanced Micro Devices", "ai_equity"),
    _e("MU", "Micron Technology", "ai_equity"),
    _e("DELL", "Dell Technologies", "ai_equity"),
    _e("AVGO", "Broadcom", "ai_equity"),
    _e("TSM", "Taiwan Semiconductor (ADR)", "ai_equity"),
    _e("000660.KS", "SK Hynix", "ai_equity", calendar="XKRX", currency="KRW"),
    _e("MSFT", "Microsoft", "hyperscaler"),
    _e("GOOGL", "Alphabet", "hyperscaler"),
    _e("AMZN", "Amazon", "hyperscaler"),
    _e("META", "Meta Platforms", "hyperscaler"),
    _e("ORCL", "Oracle", "hyperscaler"),
    _e("SMH", "VanEck Semiconductor ETF", "semis_etf", kind="etf"),
    _e("SOXX", "iShares Semiconductor ETF", "semis_etf", kind="etf"),
    _e("SPY", "SPDR S&P 500 ETF", "benchmark", kind="etf"),
    _e("QQQ", "Invesco QQQ (Nasdaq-100) ETF", "benchmark", kind="etf"),
    _e("^GSPC", "S&P 500 index", "benchmark", kind="index"),
    _e("^IXIC", "Nasdaq Composite index", "benchmark", kind="index"),
    _e("COIN", "Coinbase", "crypto_equity"),
    _e("MSTR", "Strategy (MicroStrategy)", "crypto_equity"),
    _e("IBIT", "iShares Bitcoin Trust ETF", "crypto_equity", kind="etf"),
)

GROUPS: tuple[str, ...] = ("crypto_major", "ai_token", "ai_token_extra", "ai_equity", "hyperscaler", "semis_etf",
                           "benchmark", "crypto_equity", "crypto", "equity")

_INDEX: dict[str, Asset] = {}
for _a in REGISTRY:
    for _k in {_a.id, _a.symbol, _a.name, _a.coingecko_id, _a.yahoo, _a.yahoo_crypto} - {None}:
        _INDEX.setdefault(str(_k).lower(), _a)


def _suggest(name: str, pool: Iterable[str], n: int = 5) -> str:
    canon = {p.lower(): p for p in pool}
    import difflib

    hits = difflib.get_close_matches(name.lower(), list(canon), n=n, cutoff=0.5)
    return ", ".join(canon[h] for h in hits) or "see capflow.assets.REGISTRY"


def calendars_by_name() -> dict[str, str]:
    """Every look-up key (lower-case id, symbol, name) mapped to its asset's calendar, for vectorised mapping."""
    return {k: a.calendar for k, a in _INDEX.items()}


def find(name: str | Asset) -> Asset | None:
    """The asset for an id, symbol or name, or None when the registry does not know it (no error, no suggestion)."""
    if isinstance(name, Asset):
        return name
    return _INDEX.get(str(name).strip().lower())


def resolve(name: str | Asset) -> Asset:
    """Return the asset for an id, symbol or name (case-insensitive).

    Parameters
    ----------
    name : str or Asset
        ``"TAO"``, ``"bittensor"``, ``"Bittensor"``, ``"nvda"``...

    Raises
    ------
    UnknownAssetError
        With the closest valid names, e.g. ``unknown asset 'TAOO' (parameter assets); closest: TAO, ...``.
    """
    if isinstance(name, Asset):
        return name
    key = str(name).strip().lower()
    if key in _INDEX:
        return _INDEX[key]
    pool = [a.symbol for a in REGISTRY] + [a.id for a in REGISTRY]
    raise UnknownAssetError(f"unknown asset {name!r} (parameter assets); closest valid: {_suggest(key, pool)}")


def group(tag: str) -> list[Asset]:
    """Return the assets carrying a group tag (``crypto`` and ``equity`` select by kind), in registry order.

    Raises
    ------
    UnknownAssetError
        For an unknown tag, listing the valid ones.
    """
    t = tag.strip().lower()
    if t == "crypto":
        return [a for a in REGISTRY if a.is_crypto]
    if t == "equity":
        return [a for a in REGISTRY if not a.is_crypto]
    if t not in GROUPS:
        raise UnknownAssetError(f"unknown group {tag!r}; valid groups: {', '.join(GROUPS)}")
    return [a for a in REGISTRY if t in a.tags]


def expand(names: str | Iterable[str]) -> list[Asset]:
    """Resolve a mix of asset names and group tags (``"ai_token,NVDA"``) to unique assets, order kept.

    Parameters
    ----------
    names : str or iterable of str
        Comma-separated string or list; each item an asset (id, symbol, name) or a group tag.
    """
    items = names.split(",") if isinstance(names, str) else list(names)
    out: dict[str, Asset] = {}
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        found = group(item) if item.lower() in GROUPS else [resolve(item)]
        for a in found:
            out.setdefault(a.id, a)
    if not out:
        raise UnknownAssetError("parameter assets is empty; give asset symbols (TAO, NVDA) or group tags "
                                f"({', '.join(GROUPS)})")
    return list(out.values())


def ids(names: str | Iterable[str]) -> list[str]:
    """Canonical ids for :func:`expand` of ``names``."""
    return [a.id for a in expand(names)]


def symbol(asset_id: str) -> str:
    """Display symbol for a canonical id (falls back to the id itself for pseudo-assets)."""
    a = _INDEX.get(str(asset_id).lower())
    return a.symbol if a else str(asset_id)


def group_of(asset_id: str) -> str | None:
    """The first group tag of an asset (None when it has none or is unknown)."""
    a = _INDEX.get(str(asset_id).lower())
    return a.tags[0] if a and a.tags else None
