// The OpenMP wait policy must be in the environment before torch (and libgomp with it) loads.
Retain.Cli.OpenMpWaitPolicy.ApplyBeforeTorchLoads(args);
Retain.Cli.NativeHeap.KeepFreedBlocks();
// Piped into a file or another program, Spectre lays tables out for 80 columns and splits numbers across lines:
// give them the terminal's COLUMNS when set, else room for the widest table (a study summary).
if (Console.IsOutputRedirected)
    Spectre.Console.AnsiConsole.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns > 0 ? columns : 240;
return Retain.Cli.RetainApp.Run(args);
