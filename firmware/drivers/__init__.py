# Device drivers, one module per kind; each module names its class in DRIVER and is handed its config.
