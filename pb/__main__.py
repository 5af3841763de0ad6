from pb.cli import main

main()
