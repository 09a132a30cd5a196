namespace Rebased.Modules;

/// <summary>
/// Marks a module that sets its own initial values (for example a mixer whose reference implementation is not
/// reached by the global initialisation): the reference initialisation (<c>Models.ReferenceInitialisation</c>) leaves its whole subtree alone.
/// </summary>
public interface IInitialisesItself { }
