"""The Airflow side of SNA: builds the DAGs and the engine's parts from Airflow connections.

Kept apart from the engine (`sna` imports nothing from Airflow) and out of the plugin loader's
walk (`plugins/.airflowignore`), which would otherwise import every file here as a top-level
module. The plugins folder is on `sys.path`, so `import sna_airflow` works in every Airflow process.
"""
