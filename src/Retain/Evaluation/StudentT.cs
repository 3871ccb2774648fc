namespace Retain.Evaluation;

/// <summary>
/// Student's t distribution: the CDF and its inverse, for confidence intervals over seeds (the seed's
/// <c>plot_results.py</c> uses <c>scipy.stats.t._ppf</c>). Written by hand because no maintained .NET statistics
/// library is available to this project; the CDF goes through the regularized incomplete beta function
/// (Lentz continued fraction), the quantile inverts the CDF by bisection, which cannot diverge.
/// </summary>
internal static class StudentT
{
    /// <summary>P(T ≤ x) for T with <paramref name="degreesOfFreedom"/> degrees of freedom.</summary>
    public static double Cdf(double x, double degreesOfFreedom)
    {
        RequirePositive(degreesOfFreedom);
        if (double.IsNaN(x)) return double.NaN;
        if (double.IsPositiveInfinity(x)) return 1;
        if (double.IsNegativeInfinity(x)) return 0;
        // P(|T| > |x|) = I_{df/(df+x²)}(df/2, 1/2); the two tails are symmetric.
        var tail = 0.5 * RegularizedIncompleteBeta(degreesOfFreedom / (degreesOfFreedom + x * x), degreesOfFreedom / 2, 0.5);
        return x >= 0 ? 1 - tail : tail;
    }

    /// <summary>The x with P(T ≤ x) = <paramref name="probability"/>, e.g. 0.975 for a two-sided 95% interval.</summary>
    public static double Quantile(double probability, double degreesOfFreedom)
    {
        RequirePositive(degreesOfFreedom);
        if (!(probability > 0 && probability < 1))
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "a probability strictly between 0 and 1 is required");
        if (probability < 0.5) return -Quantile(1 - probability, degreesOfFreedom);
        if (probability == 0.5) return 0;

        // Bracket the root: the CDF is increasing, so double the upper end until it passes the probability.
        double low = 0, high = 1;
        while (Cdf(high, degreesOfFreedom) < probability)
        {
            low = high;
            high *= 2;
            if (double.IsInfinity(high)) return double.PositiveInfinity;
        }
        // Bisection to the last representable digit: about 60 halvings, cheap next to the training it summarises.
        for (var i = 0; i < 200 && high - low > 1e-15 * high; i++)
        {
            var mid = 0.5 * (low + high);
            if (Cdf(mid, degreesOfFreedom) < probability) low = mid; else high = mid;
        }
        return 0.5 * (low + high);
    }

    /// <summary>I_x(a, b), the regularized incomplete beta function, for a, b &gt; 0 and x in [0, 1].</summary>
    public static double RegularizedIncompleteBeta(double x, double a, double b)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        var logFront = LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x);
        // The continued fraction converges fast only for x < (a+1)/(a+b+2); use I_x(a,b) = 1 − I_{1−x}(b,a) beyond.
        return x < (a + 1) / (a + b + 2)
            ? Math.Exp(logFront) * BetaContinuedFraction(x, a, b) / a
            : 1 - Math.Exp(logFront) * BetaContinuedFraction(1 - x, b, a) / b;
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos approximation, g = 7, relative error about 1e-15).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x); // reflection
        x -= 1;
        var sum = LanczosCoefficients[0];
        for (var i = 1; i < LanczosCoefficients.Length; i++) sum += LanczosCoefficients[i] / (x + i);
        var t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }

    private static readonly double[] LanczosCoefficients =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    /// <summary>The continued fraction of the incomplete beta function, evaluated by the modified Lentz method.</summary>
    private static double BetaContinuedFraction(double x, double a, double b)
    {
        const double tiny = 1e-300, epsilon = 1e-16;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        if (Math.Abs(d) < tiny) d = tiny;
        d = 1 / d;
        var result = d;
        for (var m = 1; m <= 10_000; m++)
        {
            // Even step: d_{2m} = m(b−m)x / ((a+2m−1)(a+2m)).
            var even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
            d = 1 + even * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + even / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            result *= d * c;
            // Odd step: d_{2m+1} = −(a+m)(a+b+m)x / ((a+2m)(a+2m+1)).
            var odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
            d = 1 + odd * d; if (Math.Abs(d) < tiny) d = tiny;
            c = 1 + odd / c; if (Math.Abs(c) < tiny) c = tiny;
            d = 1 / d;
            var step = d * c;
            result *= step;
            if (Math.Abs(step - 1) < epsilon) break;
        }
        return result;
    }

    private static void RequirePositive(double degreesOfFreedom)
    {
        if (!(degreesOfFreedom > 0))
            throw new ArgumentOutOfRangeException(nameof(degreesOfFreedom), degreesOfFreedom, "degrees of freedom must be positive");
    }
}
