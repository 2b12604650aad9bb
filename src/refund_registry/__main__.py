from refund_registry.cli import main

main()
