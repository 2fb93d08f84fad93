using TransformerEmbeddings.Reliability;

var command = args.Length > 0 ? args[0] : "help";
var rest = args.Skip(1).ToArray();
switch (command)
{
    case "soak":
        return Soak.Run(rest);
    default:
        Console.WriteLine("""
            te-reliability: long runs, many threads, kills and full disks (docs/reliability.md). Build the solution in Release
            first; every run of te is under nice -n 19.
              soak    [--texts N] [--precision fast|float32] [--model DIR] [--sample-every N] [--warm-up N] [--spot-checks N] [--work DIR]
                      te embed over N cycled STS texts: RSS every 10k texts, growth after warm-up < 5 %, output checked and spot-checked
            """);
        return command == "help" ? 0 : 1;
}
