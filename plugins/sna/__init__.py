"""SNA: turn a PrestaShop customer base into Google Ads and Meta customer-list files.

The package is a plain Python library (no Airflow import anywhere inside it): the DAGs, the
`sna` command line and the tests all call the same engine.
"""

__version__ = "0.1.0"
