-- SQLite translation of prestashop_schema.sql: the same tables and columns, for the demo shop
-- and the tests.  Types follow SQLite affinities: integers INTEGER, text and dates TEXT
-- (dates are stored as MySQL prints them, zero dates included: '0000-00-00 00:00:00'),
-- decimals REAL (so that SUM(total_paid_real / conversion_rate) never does integer division).
-- Index names are global in SQLite, hence the table name in each of them.

CREATE TABLE "ps_customer" (
  "id_customer" INTEGER PRIMARY KEY,
  "id_shop_group" INTEGER NOT NULL DEFAULT 1,
  "id_shop" INTEGER NOT NULL DEFAULT 1,
  "id_gender" INTEGER NOT NULL,
  "id_default_group" INTEGER NOT NULL DEFAULT 1,
  "id_lang" INTEGER NULL,
  "id_risk" INTEGER NOT NULL DEFAULT 1,
  "company" TEXT,
  "siret" TEXT,
  "ape" TEXT,
  "firstname" TEXT NOT NULL,
  "lastname" TEXT NOT NULL,
  "email" TEXT NOT NULL,
  "passwd" TEXT NOT NULL,
  "last_passwd_gen" TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "birthday" TEXT DEFAULT NULL,
  "newsletter" INTEGER NOT NULL DEFAULT 0,
  "ip_registration_newsletter" TEXT DEFAULT NULL,
  "newsletter_date_add" TEXT DEFAULT NULL,
  "optin" INTEGER NOT NULL DEFAULT 0,
  "website" TEXT,
  "outstanding_allow_amount" REAL NOT NULL DEFAULT 0,
  "show_public_prices" INTEGER NOT NULL DEFAULT 0,
  "max_payment_days" INTEGER NOT NULL DEFAULT 60,
  "secure_key" TEXT NOT NULL DEFAULT '-1',
  "note" TEXT,
  "active" INTEGER NOT NULL DEFAULT 0,
  "is_guest" INTEGER NOT NULL DEFAULT 0,
  "deleted" INTEGER NOT NULL DEFAULT 0,
  "date_add" TEXT NOT NULL,
  "date_upd" TEXT NOT NULL,
  "reset_password_token" TEXT DEFAULT NULL,
  "reset_password_validity" TEXT DEFAULT NULL
);
CREATE INDEX "ps_customer_customer_email" ON "ps_customer" ("email");
CREATE INDEX "ps_customer_customer_login" ON "ps_customer" ("email", "passwd");
CREATE INDEX "ps_customer_id_customer_passwd" ON "ps_customer" ("id_customer", "passwd");
CREATE INDEX "ps_customer_id_gender" ON "ps_customer" ("id_gender");
CREATE INDEX "ps_customer_id_shop_group" ON "ps_customer" ("id_shop_group");
CREATE INDEX "ps_customer_id_shop" ON "ps_customer" ("id_shop", "date_add");

CREATE TABLE "ps_customer_group" (
  "id_customer" INTEGER NOT NULL,
  "id_group" INTEGER NOT NULL,
  PRIMARY KEY ("id_customer", "id_group")
);
CREATE INDEX "ps_customer_group_customer_login" ON "ps_customer_group" ("id_group");
CREATE INDEX "ps_customer_group_id_customer" ON "ps_customer_group" ("id_customer");

CREATE TABLE "ps_address" (
  "id_address" INTEGER PRIMARY KEY,
  "id_country" INTEGER NOT NULL,
  "id_state" INTEGER DEFAULT NULL,
  "id_customer" INTEGER NOT NULL DEFAULT 0,
  "id_manufacturer" INTEGER NOT NULL DEFAULT 0,
  "id_supplier" INTEGER NOT NULL DEFAULT 0,
  "id_warehouse" INTEGER NOT NULL DEFAULT 0,
  "alias" TEXT NOT NULL,
  "company" TEXT DEFAULT NULL,
  "lastname" TEXT NOT NULL,
  "firstname" TEXT NOT NULL,
  "address1" TEXT NOT NULL,
  "address2" TEXT DEFAULT NULL,
  "postcode" TEXT DEFAULT NULL,
  "city" TEXT NOT NULL,
  "other" TEXT,
  "phone" TEXT DEFAULT NULL,
  "phone_mobile" TEXT DEFAULT NULL,
  "vat_number" TEXT DEFAULT NULL,
  "dni" TEXT DEFAULT NULL,
  "date_add" TEXT NOT NULL,
  "date_upd" TEXT NOT NULL,
  "active" INTEGER NOT NULL DEFAULT 1,
  "deleted" INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX "ps_address_address_customer" ON "ps_address" ("id_customer");
CREATE INDEX "ps_address_id_country" ON "ps_address" ("id_country");
CREATE INDEX "ps_address_id_state" ON "ps_address" ("id_state");
CREATE INDEX "ps_address_id_manufacturer" ON "ps_address" ("id_manufacturer");
CREATE INDEX "ps_address_id_supplier" ON "ps_address" ("id_supplier");
CREATE INDEX "ps_address_id_warehouse" ON "ps_address" ("id_warehouse");

CREATE TABLE "ps_country" (
  "id_country" INTEGER PRIMARY KEY,
  "id_zone" INTEGER NOT NULL,
  "id_currency" INTEGER NOT NULL DEFAULT 0,
  "iso_code" TEXT NOT NULL,
  "call_prefix" INTEGER NOT NULL DEFAULT 0,
  "active" INTEGER NOT NULL DEFAULT 0,
  "contains_states" INTEGER NOT NULL DEFAULT 0,
  "need_identification_number" INTEGER NOT NULL DEFAULT 0,
  "need_zip_code" INTEGER NOT NULL DEFAULT 1,
  "zip_code_format" TEXT NOT NULL DEFAULT '',
  "display_tax_label" INTEGER NOT NULL
);
CREATE INDEX "ps_country_country_iso_code" ON "ps_country" ("iso_code");
CREATE INDEX "ps_country_country_" ON "ps_country" ("id_zone");

CREATE TABLE "ps_country_lang" (
  "id_country" INTEGER NOT NULL,
  "id_lang" INTEGER NOT NULL,
  "name" TEXT NOT NULL,
  PRIMARY KEY ("id_country", "id_lang")
);

CREATE TABLE "ps_state" (
  "id_state" INTEGER PRIMARY KEY,
  "id_country" INTEGER NOT NULL,
  "id_zone" INTEGER NOT NULL,
  "name" TEXT NOT NULL,
  "iso_code" TEXT NOT NULL,
  "tax_behavior" INTEGER NOT NULL DEFAULT 0,
  "active" INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX "ps_state_id_country" ON "ps_state" ("id_country");
CREATE INDEX "ps_state_name" ON "ps_state" ("name");
CREATE INDEX "ps_state_id_zone" ON "ps_state" ("id_zone");

CREATE TABLE "ps_group" (
  "id_group" INTEGER PRIMARY KEY,
  "reduction" REAL NOT NULL DEFAULT 0,
  "price_display_method" INTEGER NOT NULL DEFAULT 0,
  "show_prices" INTEGER NOT NULL DEFAULT 1,
  "date_add" TEXT NOT NULL,
  "date_upd" TEXT NOT NULL
);

CREATE TABLE "ps_group_lang" (
  "id_group" INTEGER NOT NULL,
  "id_lang" INTEGER NOT NULL,
  "name" TEXT NOT NULL,
  PRIMARY KEY ("id_group", "id_lang")
);

CREATE TABLE "ps_group_shop" (
  "id_group" INTEGER NOT NULL,
  "id_shop" INTEGER NOT NULL,
  PRIMARY KEY ("id_group", "id_shop")
);
CREATE INDEX "ps_group_shop_id_shop" ON "ps_group_shop" ("id_shop");

CREATE TABLE IF NOT EXISTS "ps_gender" (
  "id_gender" INTEGER PRIMARY KEY,
  "type" INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS "ps_gender_lang" (
  "id_gender" INTEGER NOT NULL,
  "id_lang" INTEGER NOT NULL,
  "name" TEXT NOT NULL,
  PRIMARY KEY ("id_gender", "id_lang")
);
CREATE INDEX IF NOT EXISTS "ps_gender_lang_id_gender" ON "ps_gender_lang" ("id_gender");

CREATE TABLE "ps_lang" (
  "id_lang" INTEGER PRIMARY KEY,
  "name" TEXT NOT NULL,
  "active" INTEGER NOT NULL,
  "iso_code" TEXT NOT NULL,
  "language_code" TEXT NOT NULL,
  "locale" TEXT NOT NULL,
  "date_format_lite" TEXT NOT NULL,
  "date_format_full" TEXT NOT NULL,
  "is_rtl" INTEGER NOT NULL
);

CREATE TABLE "ps_shop_group" (
  "id_shop_group" INTEGER PRIMARY KEY,
  "name" TEXT NOT NULL,
  "color" TEXT NOT NULL,
  "share_customer" INTEGER NOT NULL,
  "share_order" INTEGER NOT NULL,
  "share_stock" INTEGER NOT NULL,
  "active" INTEGER NOT NULL,
  "deleted" INTEGER NOT NULL
);

CREATE TABLE "ps_shop" (
  "id_shop" INTEGER PRIMARY KEY,
  "id_shop_group" INTEGER NOT NULL,
  "name" TEXT NOT NULL,
  "color" TEXT NOT NULL,
  "id_category" INTEGER NOT NULL,
  "theme_name" TEXT NOT NULL,
  "active" INTEGER NOT NULL,
  "deleted" INTEGER NOT NULL
);
CREATE INDEX "ps_shop_IDX_CBDFBB9EF5C9E40" ON "ps_shop" ("id_shop_group");

CREATE TABLE "ps_orders" (
  "id_order" INTEGER PRIMARY KEY,
  "reference" TEXT,
  "id_shop_group" INTEGER NOT NULL DEFAULT 1,
  "id_shop" INTEGER NOT NULL DEFAULT 1,
  "id_carrier" INTEGER NOT NULL,
  "id_lang" INTEGER NOT NULL,
  "id_customer" INTEGER NOT NULL,
  "id_cart" INTEGER NOT NULL,
  "id_currency" INTEGER NOT NULL,
  "id_address_delivery" INTEGER NOT NULL,
  "id_address_invoice" INTEGER NOT NULL,
  "current_state" INTEGER NOT NULL,
  "secure_key" TEXT NOT NULL DEFAULT '-1',
  "payment" TEXT NOT NULL,
  "conversion_rate" REAL NOT NULL DEFAULT 1,
  "module" TEXT DEFAULT NULL,
  "recyclable" INTEGER NOT NULL DEFAULT 0,
  "gift" INTEGER NOT NULL DEFAULT 0,
  "gift_message" TEXT,
  "mobile_theme" INTEGER NOT NULL DEFAULT 0,
  "total_discounts" REAL NOT NULL DEFAULT 0,
  "total_discounts_tax_incl" REAL NOT NULL DEFAULT 0,
  "total_discounts_tax_excl" REAL NOT NULL DEFAULT 0,
  "total_paid" REAL NOT NULL DEFAULT 0,
  "total_paid_tax_incl" REAL NOT NULL DEFAULT 0,
  "total_paid_tax_excl" REAL NOT NULL DEFAULT 0,
  "total_paid_real" REAL NOT NULL DEFAULT 0,
  "total_products" REAL NOT NULL DEFAULT 0,
  "total_products_wt" REAL NOT NULL DEFAULT 0,
  "total_shipping" REAL NOT NULL DEFAULT 0,
  "total_shipping_tax_incl" REAL NOT NULL DEFAULT 0,
  "total_shipping_tax_excl" REAL NOT NULL DEFAULT 0,
  "carrier_tax_rate" REAL NOT NULL DEFAULT 0,
  "total_wrapping" REAL NOT NULL DEFAULT 0,
  "total_wrapping_tax_incl" REAL NOT NULL DEFAULT 0,
  "total_wrapping_tax_excl" REAL NOT NULL DEFAULT 0,
  "round_mode" INTEGER NOT NULL DEFAULT 2,
  "round_type" INTEGER NOT NULL DEFAULT 1,
  "invoice_number" INTEGER NOT NULL DEFAULT 0,
  "delivery_number" INTEGER NOT NULL DEFAULT 0,
  "invoice_date" TEXT NOT NULL,
  "delivery_date" TEXT NOT NULL,
  "valid" INTEGER NOT NULL DEFAULT 0,
  "date_add" TEXT NOT NULL,
  "date_upd" TEXT NOT NULL,
  "note" TEXT
);
CREATE INDEX "ps_orders_reference" ON "ps_orders" ("reference");
CREATE INDEX "ps_orders_id_customer" ON "ps_orders" ("id_customer");
CREATE INDEX "ps_orders_id_cart" ON "ps_orders" ("id_cart");
CREATE INDEX "ps_orders_invoice_number" ON "ps_orders" ("invoice_number");
CREATE INDEX "ps_orders_id_carrier" ON "ps_orders" ("id_carrier");
CREATE INDEX "ps_orders_id_lang" ON "ps_orders" ("id_lang");
CREATE INDEX "ps_orders_id_currency" ON "ps_orders" ("id_currency");
CREATE INDEX "ps_orders_id_address_delivery" ON "ps_orders" ("id_address_delivery");
CREATE INDEX "ps_orders_id_address_invoice" ON "ps_orders" ("id_address_invoice");
CREATE INDEX "ps_orders_id_shop_group" ON "ps_orders" ("id_shop_group");
CREATE INDEX "ps_orders_current_state" ON "ps_orders" ("current_state");
CREATE INDEX "ps_orders_id_shop" ON "ps_orders" ("id_shop");
CREATE INDEX "ps_orders_date_add" ON "ps_orders" ("date_add");
CREATE INDEX "ps_orders_invoice_date" ON "ps_orders" ("invoice_date");

CREATE TABLE "ps_configuration" (
  "id_configuration" INTEGER PRIMARY KEY,
  "id_shop_group" INTEGER DEFAULT NULL,
  "id_shop" INTEGER DEFAULT NULL,
  "name" TEXT NOT NULL,
  "value" TEXT,
  "date_add" TEXT NOT NULL,
  "date_upd" TEXT NOT NULL
);
CREATE INDEX "ps_configuration_name" ON "ps_configuration" ("name");
CREATE INDEX "ps_configuration_id_shop" ON "ps_configuration" ("id_shop");
CREATE INDEX "ps_configuration_id_shop_group" ON "ps_configuration" ("id_shop_group");

CREATE TABLE IF NOT EXISTS "ps_emailsubscription" (
  "id" INTEGER PRIMARY KEY,
  "id_shop" INTEGER NOT NULL DEFAULT 1,
  "id_shop_group" INTEGER NOT NULL DEFAULT 1,
  "email" TEXT NOT NULL,
  "newsletter_date_add" TEXT NULL,
  "ip_registration_newsletter" TEXT NOT NULL,
  "http_referer" TEXT NULL,
  "active" INTEGER NOT NULL DEFAULT 0,
  "id_lang" INTEGER NOT NULL DEFAULT 0
);
