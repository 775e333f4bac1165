"""The review folder and page: every row's body and problems, as a person checks them."""
