using System.Globalization;
using System.Text;

namespace Rebased.Data.Mqar;

/// <summary>MQAR rows as text, for <c>rebased data mqar --preview</c>.</summary>
public static class MqarPreview
{
    /// <summary>
    /// One example in a readable form: the key→value pairs, each query as "position: key → target", and the
    /// input row with queries in brackets and runs of filler zeros folded as 0×n.
    /// </summary>
    public static string Describe(MqarDataset data, int row)
    {
        int seqLen = data.SeqLen, k = data.NumKvPairs;
        var inputs = new long[seqLen];
        var labels = new long[seqLen];
        data.CopyInputs(row, inputs.AsSpan());
        data.CopyLabels(row, labels);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"example {row}  (V={data.VocabSize}, L={seqLen}, K={k}; {k} queries)");
        text.Append("  pairs  :");
        for (int j = 0; j < k; j++) text.Append(CultureInfo.InvariantCulture, $" {inputs[2 * j]}→{inputs[2 * j + 1]}");
        text.AppendLine();
        text.Append("  queries:");
        for (int p = 0; p < seqLen; p++)
            if (labels[p] != MqarDataset.IgnoreIndex) text.Append(CultureInfo.InvariantCulture, $" @{p}:{inputs[p]}→{labels[p]}");
        text.AppendLine();
        text.Append("  inputs :");
        for (int p = 0; p < seqLen; p++)
        {
            if (inputs[p] == 0 && labels[p] == MqarDataset.IgnoreIndex)
            {
                int end = p;
                while (end + 1 < seqLen && inputs[end + 1] == 0 && labels[end + 1] == MqarDataset.IgnoreIndex) end++;
                text.Append(end > p ? string.Create(CultureInfo.InvariantCulture, $" 0×{end - p + 1}") : " 0");
                p = end;
            }
            else if (labels[p] != MqarDataset.IgnoreIndex) text.Append(CultureInfo.InvariantCulture, $" [{inputs[p]}]");
            else text.Append(CultureInfo.InvariantCulture, $" {inputs[p]}");
        }
        text.AppendLine();
        return text.ToString();
    }
}
