from reprisal_report.cli.app import main

main()
