from rewardspec.cli import main

main()
