namespace Rebased.Mixers;

/// <summary>What every sequence mixer reports besides its forward.</summary>
public interface ISequenceMixer
{
    /// <summary>
    /// The recurrent state size (Zoology's <c>state_size</c>): how many numbers one sequence carries from one time step
    /// to the next at inference after <paramref name="sequenceLength"/> tokens. Constant for recurrent mixers;
    /// attention's key-value cache grows with the length.
    /// </summary>
    long StateSize(int sequenceLength);
}
