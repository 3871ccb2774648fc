namespace Retain.Data;

/// <summary>
/// numpy's legacy <c>RandomState</c> (MT19937 seeded with <c>init_genrand</c>), as far as the seed system uses it:
/// <c>shuffle</c> and <c>permutation</c>. Hand-written because task orders, validation splits and batch orders must
/// equal the original's for the same seed, and no .NET library reproduces numpy's stream.
/// </summary>
public sealed class NumpyRandomState
{
    private const int N = 624, M = 397;
    private readonly uint[] _state = new uint[N];
    private int _index;

    public NumpyRandomState(uint seed)
    {
        _state[0] = seed;
        for (var i = 1; i < N; i++)
            _state[i] = 1812433253u * (_state[i - 1] ^ (_state[i - 1] >> 30)) + (uint)i;
        _index = N;
    }

    /// <summary>The generator's full state, so that a resumed run continues the same stream.</summary>
    public (uint[] State, int Index) Snapshot() => ((uint[])_state.Clone(), _index);

    public void Restore((uint[] State, int Index) snapshot)
    {
        if (snapshot.State.Length != N || snapshot.Index is < 0 or > N)
            throw new ArgumentException("not an MT19937 state", nameof(snapshot));
        snapshot.State.CopyTo(_state, 0);
        _index = snapshot.Index;
    }

    public uint NextUInt32()
    {
        if (_index >= N) Twist();
        var y = _state[_index++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    private void Twist()
    {
        for (var i = 0; i < N; i++)
        {
            var y = (_state[i] & 0x80000000u) | (_state[(i + 1) % N] & 0x7fffffffu);
            var next = _state[(i + M) % N] ^ (y >> 1);
            _state[i] = (y & 1) != 0 ? next ^ 0x9908b0dfu : next;
        }
        _index = 0;
    }

    /// <summary>Uniform integer in [0, max] by masked rejection, as numpy's legacy <c>random_interval</c>.</summary>
    public uint Interval(uint max)
    {
        if (max == 0) return 0;
        var mask = max;
        mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4; mask |= mask >> 8; mask |= mask >> 16;
        uint value;
        while ((value = NextUInt32() & mask) > max) { }
        return value;
    }

    /// <summary>In-place Fisher-Yates shuffle walking from the end, as numpy's legacy <c>shuffle</c>.</summary>
    public void Shuffle<T>(T[] items)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = (int)Interval((uint)i);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>Uniform double in [0, 1) from 53 random bits, as numpy's legacy <c>random_sample</c>.</summary>
    public double RandomSample()
    {
        var high = NextUInt32() >> 5;
        var low = NextUInt32() >> 6;
        return (high * 67108864.0 + low) / 9007199254740992.0;
    }

    /// <summary><c>permutation(n)</c> = shuffle of <c>arange(n)</c>.</summary>
    public int[] Permutation(int n)
    {
        var perm = Enumerable.Range(0, n).ToArray();
        Shuffle(perm);
        return perm;
    }
}
