using TransformerEmbeddings.Reliability;

var command = args.Length > 0 ? args[0] : "help";
var rest = args.Skip(1).ToArray();
switch (command)
{
    case "soak":
        return Soak.Run(rest);
    case "kills":
        return Kills.Run(rest);
    case "disk":
        return Disk.Run(rest);
    case "threads":
        return Threads.Run(rest);
    default:
        Console.WriteLine("""
            te-reliability: long runs, many threads, kills and full disks (docs/reliability.md). Build the solution in Release
            first; every run of te is under nice -n 19.
              soak    [--texts N] [--precision fast|float32] [--model DIR] [--sample-every N] [--warm-up N] [--spot-checks N] [--work DIR]
                      te embed over N cycled STS texts: RSS every 10k texts, growth after warm-up < 5 %, output checked and spot-checked
              kills   [--kills 20] [--texts 6000] [--during writing|all] [--precision float32|fast] [--format npy|safetensors] [--seed 26] [--model DIR] [--work DIR]
                      te embed --resume killed with SIGKILL at random moments, then resumed: byte-identical to an uninterrupted run
              disk    [--texts 3000] [--model DIR] [--work DIR]
                      a full and a read-only tmpfs (root): exit 3, one line, previous output untouched, --resume completes later
              threads [--threads 8] [--minutes 2] [--precision float32,fast] [--chunk 16] [--model DIR]
                      threads sharing one model for minutes: every vector bit-identical to a sequential run
            """);
        return command == "help" ? 0 : 1;
}
