"""The fast book path: binance, bybit and okx books over perptui's own websocket reader.

ccxt.pro costs 65-160 µs of CPU per depth message here; this path decodes with orjson,
keeps books as wire strings (`perptui.core.wire_book`) and applies every venue rule
(sequence chains, okx's checksum, the crossed-book guard) per message, with the venues'
own subscribe / snapshot / resync steps. Every other venue, and these three with
``book_path = "ccxt"``, stream through ccxt.pro.
"""
