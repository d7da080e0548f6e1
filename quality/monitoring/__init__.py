"""The monitor: freshness SLAs, volume anomalies, schema drift and performance degradation of a run date,
recorded in the quality ledger (layer `monitor`); each kind of finding raises one alert per run
(orchestration/flows/monitoring/pipeline_monitor.py). See quality/README.md, "Monitoring"."""
