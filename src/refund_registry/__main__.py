from refund_registry.cli.main import main

main()
