"""Sources and storage: CoinGecko, Yahoo, the offline snapshot, the parquet cache, and :func:`load_prices`."""

from capflow.data.store import (DataRequestError, OfflineFallbackWarning, data_summary, load_prices, load_sources,
                                provenance_table, validate_request)

__all__ = ["load_prices", "load_sources", "provenance_table", "data_summary", "validate_request", "DataRequestError", "OfflineFallbackWarning"]
