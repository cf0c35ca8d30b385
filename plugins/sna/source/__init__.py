"""Reading customers from a PrestaShop database (MySQL/MariaDB in production, SQLite for the demo)."""
