"""Doors: protocol adapters that turn what a shipper sends (OTLP, Loki push, syslog, JSON lines) into
`Record`s for the one `IngestService`. They decode and map; mining, storing and detection stay in the service.
"""
