using CsCheck;

namespace Retain.Tests;

/// <summary>
/// CsCheck's <c>Sample</c> draws a fresh random seed on every run, so a fuzz test would meet different inputs each
/// time. Tests here must be deterministic: this draws the same inputs from a fixed PCG seed on every run, one after the
/// other, and names the failing input's index and value.
/// </summary>
public static class FixedSeedFuzz
{
    public const ulong Seed = 20261207;

    public static void Check<T>(this Gen<T> inputs, Action<T> check, int iterations)
    {
        var pcg = new PCG(1, Seed);
        for (var i = 0; i < iterations; i++)
        {
            var input = inputs.Generate(pcg, null, out _);
            try
            {
                check(input);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"fuzz input {i} of {iterations} (seed {Seed}) failed: {CsCheck.Check.Print(input)}", e);
            }
        }
    }
}
