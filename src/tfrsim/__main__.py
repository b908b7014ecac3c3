from tfrsim.cli import main

main()
