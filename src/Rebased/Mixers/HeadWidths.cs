namespace Rebased.Mixers;

/// <summary>The key and value widths of the multi-head state mixers (DeltaNet, GLA), checked to split evenly over the heads.</summary>
internal static class HeadWidths
{
    /// <summary>⌊d_model·expand_k⌋ and ⌊d_model·expand_v⌋, refused unless both are positive multiples of a positive head count.</summary>
    public static (int KeyDim, int ValueDim) KeyAndValue(string mixer, int dModel, double expandK, double expandV, int numHeads)
    {
        int keyDim = (int)(dModel * expandK), valueDim = (int)(dModel * expandV);
        if (numHeads < 1) throw new UserError($"{mixer}: num_heads must be positive, got {numHeads}");
        if (keyDim < numHeads || keyDim % numHeads != 0 || valueDim < numHeads || valueDim % numHeads != 0)
            throw new UserError($"{mixer}: key width {keyDim} (d_model·expand_k) and value width {valueDim} (d_model·expand_v) must be positive multiples of num_heads {numHeads}");
        return (keyDim, valueDim);
    }
}
