namespace Rebased.Training;

/// <summary>
/// PyTorch's CosineAnnealingLR as the reference steps it: once per epoch, T_max = max_epochs. Computed
/// with PyTorch's recursive (chainable) update so that every epoch's rate equals PyTorch's to the last bit;
/// it agrees with the closed form η_min + (η₀ − η_min)(1 + cos(π e / T_max)) / 2 to rounding.
/// </summary>
public static class CosineSchedule
{
    public static double LearningRate(int epoch, double baseLr, int tMax, double etaMin = 0.0)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch));
        double lr = baseLr;
        for (int e = 1; e <= epoch; e++)
        {
            if ((e - 1 - tMax) % (2 * tMax) == 0)
                lr += (baseLr - etaMin) * (1 - Math.Cos(Math.PI / tMax)) / 2;
            else
                lr = (1 + Math.Cos(Math.PI * e / tMax)) / (1 + Math.Cos(Math.PI * (e - 1) / tMax)) * (lr - etaMin) + etaMin;
        }
        return lr;
    }
}
