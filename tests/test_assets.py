import pytest

from capflow import assets


@pytest.mark.parametrize("name,expected", [("TAO", "bittensor"), ("tao", "bittensor"), ("Bittensor", "bittensor"),
                                           ("nvda", "NVDA"), ("SK Hynix", "000660.KS"), ("render", "render-token"),
                                           ("^gspc", "^GSPC"), ("fetch-ai", "fetch-ai")])
def test_resolve_by_id_symbol_or_name(name, expected):
    assert assets.resolve(name).id == expected


def test_required_registry_members_present():
    required = ("BTC ETH SOL BNB TAO NEAR ICP RENDER FET WLD AKT VVV VIRTUAL NVDA AMD MU DELL AVGO TSM 000660.KS "
                "MSFT GOOGL AMZN META ORCL SMH SOXX SPY QQQ ^GSPC ^IXIC COIN MSTR IBIT").split()
    for sym in required:
        assert assets.resolve(sym)


def test_groups():
    assert [a.symbol for a in assets.group("hyperscaler")] == ["MSFT", "GOOGL", "AMZN", "META", "ORCL"]
    assert {a.symbol for a in assets.group("semis_etf")} == {"SMH", "SOXX"}
    assert all(a.is_crypto for a in assets.group("ai_token"))


def test_unknown_asset_lists_closest():
    with pytest.raises(assets.UnknownAssetError) as err:
        assets.resolve("TAOO")
    msg = str(err.value)
    assert "TAOO" in msg and "TAO" in msg and "\n" not in msg


def test_unknown_group_lists_valid():
    with pytest.raises(assets.UnknownAssetError, match="valid groups"):
        assets.group("ai_tokens")


def test_expand_mixes_groups_and_names_without_duplicates():
    ids = assets.ids("crypto_major,BTC,NVDA")
    assert ids == ["bitcoin", "ethereum", "solana", "binancecoin", "NVDA"]
