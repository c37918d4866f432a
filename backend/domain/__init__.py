"""The pure core: domain values and state with no database, HTTP or clock behind them."""
