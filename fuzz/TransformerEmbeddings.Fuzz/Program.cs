using SharpFuzz;
using TransformerEmbeddings.Fuzz;

// te-fuzz TARGET                  run under afl-fuzz (SharpFuzz out-of-process: a crash restarts the child, not the run)
// te-fuzz replay TARGET FILE...   run files through a target once each, printing the outcome (crash reproduction)
if (args.Length >= 1 && Targets.ByName.TryGetValue(args[0], out var target))
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        target(memory.ToArray());
    });
    return 0;
}
if (args.Length >= 3 && args[0] == "replay" && Targets.ByName.TryGetValue(args[1], out target))
{
    var failed = 0;
    foreach (var file in args.Skip(2).SelectMany(a => Directory.Exists(a) ? Directory.EnumerateFiles(a, "*", SearchOption.AllDirectories) : [a]))
    {
        try
        {
            Console.WriteLine($"{file}: {target(File.ReadAllBytes(file))}");
        }
        catch (Exception e)
        {
            failed++;
            Console.WriteLine($"{file}: CRASH {e.GetType().FullName}: {e.Message}");
            Console.WriteLine(e.StackTrace);
        }
    }
    return failed == 0 ? 0 : 1;
}
Console.Error.WriteLine($"usage: te-fuzz {{{string.Join('|', Targets.ByName.Keys)}}}  |  te-fuzz replay TARGET FILE-OR-FOLDER...");
return 2;
