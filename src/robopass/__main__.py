from robopass.cli import main

main()
