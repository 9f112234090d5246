"""HTTP routes: thin translations between requests and the engine / repository."""
