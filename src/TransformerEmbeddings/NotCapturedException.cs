namespace TransformerEmbeddings;

/// <summary>
/// An <see cref="EncoderOutput"/> was asked for something it does not hold: an internal its forward pass did not capture
/// (the message names the <see cref="Inspection.CaptureOptions"/> to encode with, or <see cref="EncoderOutput.EnsureCaptured"/>
/// to re-run the pass), the pooler output of a checkpoint without a pooler, or the tokenization of a batch made from ids.
/// Nothing is ever re-run behind your back.
/// </summary>
public sealed class NotCapturedException : TransformerEmbeddingsException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="name">What was asked for, e.g. <c>attentions.5</c> or <c>tokenization</c>.</param>
    /// <param name="message">Why it is missing and what to do.</param>
    public NotCapturedException(string name, string message)
        : base(message)
    {
        Name = name;
    }

    /// <summary>What was asked for (a tensor name such as <c>hidden_states.0</c>, or <c>tokenization</c>).</summary>
    public string Name { get; }
}
