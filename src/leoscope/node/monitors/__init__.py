"""Telemetry monitors of the node agent: each produces trigger variables through a callback.

* `base`        `Monitor` / `PollingMonitor` lifecycle, `Backoff`, the ``on_sample`` contract
* `satellites`  satellite elevation, visible count and slant ranges from TLEs (skyfield, SGP4)
* `tle`         TLE validation, parsing, download and the offline cache
* `weather`     OpenWeatherMap current weather at the node's coordinates
* `dish`        Starlink dish status from starlink-grpc-tools' MQTT topics (and the dish's gRPC API)
* `dish_fields` dish status field names, types and parsing
* `traffic`     receive/transmit rates of the running experiment containers (Docker stats)

Modules are imported on demand so that a node without an optional driver (Docker, paho-mqtt)
can still use the others.
"""
