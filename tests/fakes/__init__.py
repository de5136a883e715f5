"""Small local stand-ins for services that cannot run here (CelesTrak, OpenWeatherMap, a dish).

Each fake speaks the real protocol over loopback; none replaces something that can run locally.
"""
